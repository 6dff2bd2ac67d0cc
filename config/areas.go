package config

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/streetwatch/streetwatch/violation"
)

// Areas are a camera's masks and zones as the zone editor draws them.
// Polygon points are in the camera's native pixels, or all within 0..1
// (normalised), as in the config.
type Areas struct {
	Masks []Polygon
	Zones []Zone
}

// WithAreas returns a copy of c in which camera's masks and zones are
// replaced by a's. A zone named like one the camera has keeps that zone's
// other settings (schedule, overrides, left_objects) unless a sets them;
// a new zone gets the defaults a config file would give it. c is not
// changed, so it may be the running config. Validate the copy to check the
// areas with the rules check-config applies; their errors name
// cameras[i].masks[j] and cameras[i].zones[j].
func (c *Config) WithAreas(camera string, a Areas) (*Config, error) {
	i := slices.IndexFunc(c.Cameras, func(cam Camera) bool { return cam.ID == camera })
	if i < 0 {
		return nil, fmt.Errorf("no camera %q in cameras", camera)
	}
	out := *c
	out.Cameras = slices.Clone(c.Cameras)
	cam := &out.Cameras[i]
	old := cam.Zones
	cam.Masks = slices.Clone(a.Masks)
	cam.Zones = make([]Zone, len(a.Zones))
	for j, z := range a.Zones {
		if k := slices.IndexFunc(old, func(o Zone) bool { return o.Name == z.Name }); k >= 0 {
			was := old[k]
			if z.Schedule.Timezone == "" && len(z.Schedule.Windows) == 0 {
				z.Schedule = was.Schedule
			}
			if z.Overrides == nil {
				z.Overrides = was.Overrides
			}
			if z.LeftObjects == nil {
				z.LeftObjects = was.LeftObjects
			}
		}
		z.defaults()
		cam.Zones[j] = z
	}
	return &out, nil
}

// defaultTimezone is where zones' schedules are read by default.
const defaultTimezone = "Asia/Shanghai"

func defaultZoneTypes() []string { return violation.TypeNames() }

// defaults gives a zone what a config file leaving its fields out gives.
func (z *Zone) defaults() {
	if len(z.Types) == 0 {
		z.Types = defaultZoneTypes()
	}
	if z.Schedule.Timezone == "" {
		z.Schedule.Timezone = defaultTimezone
	}
}

// AreasYAML writes masks and zones as the YAML block that goes under the
// camera in the config file (indented for a camera in a `cameras:` list),
// points as flow sequences ([x, y]). Parsing it back gives the same
// masks and zones.
func AreasYAML(a Areas) ([]byte, error) {
	doc := mapping()
	masks := &yaml.Node{Kind: yaml.SequenceNode}
	for _, m := range a.Masks {
		masks.Content = append(masks.Content, polygonNode(m))
	}
	if len(masks.Content) == 0 {
		masks.Style = yaml.FlowStyle
	}
	zones := &yaml.Node{Kind: yaml.SequenceNode}
	for _, z := range a.Zones {
		n := mapping()
		add(n, "name", scalar(z.Name))
		add(n, "polygon", polygonNode(z.Polygon))
		types := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range z.Types {
			types.Content = append(types.Content, scalar(t))
		}
		add(n, "types", types)
		if z.Schedule.Timezone != defaultTimezone || len(z.Schedule.Windows) > 0 {
			if err := addValue(n, "schedule", z.Schedule); err != nil {
				return nil, err
			}
		}
		if len(z.Overrides) > 0 {
			if err := addValue(n, "overrides", z.Overrides); err != nil {
				return nil, err
			}
		}
		if z.LeftObjects != nil {
			add(n, "left_objects", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(*z.LeftObjects)})
		}
		zones.Content = append(zones.Content, n)
	}
	if len(zones.Content) == 0 {
		zones.Style = yaml.FlowStyle
	}
	add(doc, "masks", masks)
	add(doc, "zones", zones)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

func add(m *yaml.Node, key string, v *yaml.Node) { m.Content = append(m.Content, scalar(key), v) }

func addValue(m *yaml.Node, key string, v any) error {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	add(m, key, &n)
	return nil
}

func polygonNode(p Polygon) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, pt := range p {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{
			scalar(strconv.FormatFloat(float64(pt[0]), 'f', -1, 32)),
			scalar(strconv.FormatFloat(float64(pt[1]), 'f', -1, 32)),
		}})
	}
	return n
}
