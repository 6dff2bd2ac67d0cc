package detectors

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// ExportMeta is what an ONNX file says about itself in its metadata
// properties. Ultralytics exports write description, author, version,
// stride, task, batch, imgsz, names, args and (8.4 on) end2end, each as
// Python's str() of the value; other tools usually write none of them.
type ExportMeta struct {
	// Ultralytics is set when the file carries Ultralytics' metadata.
	Ultralytics bool
	Version     string // the exporter's version, e.g. 8.4.33
	Task        string // detect, segment, pose, obb or classify
	// Names are the class names in class-index order.
	Names []string
	// ImgH, ImgW: the export's image size (0 when not given).
	ImgH, ImgW int
	Stride     int
	// Batch is the export's batch argument: the fixed batch of a static
	// export, and the most images the graph's own NMS handles in a dynamic
	// one (its per-image loop is unrolled to this many).
	Batch int
	// End2End: the model outputs final boxes (no NMS needed), as YOLO26
	// and YOLOv10 do; NMS: the export added NMS to the graph (nms=True).
	End2End, NMS bool
	// Dynamic: exported with dynamic=True.
	Dynamic bool
}

// ReadExportMeta reads a model file's metadata. A file without metadata
// gives a zero ExportMeta; a property that is present but unreadable is an
// error naming it.
func ReadExportMeta(path string) (ExportMeta, error) {
	md, err := ort.GetModelMetadata(path)
	if err != nil {
		return ExportMeta{}, fmt.Errorf("read %s: %w", path, err)
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return ExportMeta{}, fmt.Errorf("read metadata of %s: %w", path, err)
	}
	props := map[string]string{}
	for _, k := range keys {
		v, ok, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return ExportMeta{}, fmt.Errorf("read metadata %q of %s: %w", k, path, err)
		}
		if ok {
			props[k] = v
		}
	}
	return parseExportMeta(props)
}

// parseExportMeta interprets metadata properties written by Ultralytics.
func parseExportMeta(props map[string]string) (ExportMeta, error) {
	var em ExportMeta
	em.Ultralytics = props["author"] == "Ultralytics" || strings.HasPrefix(props["description"], "Ultralytics")
	if !em.Ultralytics {
		return em, nil
	}
	em.Version, em.Task = props["version"], props["task"]
	bad := func(key string, err error) (ExportMeta, error) {
		return ExportMeta{}, fmt.Errorf("metadata %q = %q: %w", key, props[key], err)
	}
	if s, ok := props["names"]; ok {
		v, err := parsePyLiteral(s)
		if err != nil {
			return bad("names", err)
		}
		if em.Names, err = classNames(v); err != nil {
			return bad("names", err)
		}
	}
	if s, ok := props["imgsz"]; ok {
		v, err := parsePyLiteral(s)
		if err != nil {
			return bad("imgsz", err)
		}
		switch v := v.(type) {
		case int:
			em.ImgH, em.ImgW = v, v
		case []any:
			h, okh := pyInt(v, 0)
			w, okw := pyInt(v, 1)
			if len(v) != 2 || !okh || !okw {
				return bad("imgsz", fmt.Errorf("want [height, width]"))
			}
			em.ImgH, em.ImgW = h, w
		default:
			return bad("imgsz", fmt.Errorf("want an int or [height, width]"))
		}
	}
	for key, dst := range map[string]*int{"batch": &em.Batch, "stride": &em.Stride} {
		if s, ok := props[key]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return bad(key, err)
			}
			*dst = n
		}
	}
	if s, ok := props["end2end"]; ok {
		em.End2End = strings.TrimSpace(s) == "True"
	}
	if s, ok := props["args"]; ok {
		v, err := parsePyLiteral(s)
		if err != nil {
			return bad("args", err)
		}
		args, ok := v.(map[any]any)
		if !ok {
			return bad("args", fmt.Errorf("want a dict"))
		}
		em.NMS = args["nms"] == true
		em.Dynamic = args["dynamic"] == true
		if b, ok := args["batch"].(int); ok && em.Batch == 0 {
			em.Batch = b
		}
	}
	return em, nil
}

// classNames turns {0: 'person', 1: 'car'} (or a list) into a slice; the
// indices must run 0..n-1.
func classNames(v any) ([]string, error) {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, n := range v {
			s, ok := n.(string)
			if !ok {
				return nil, fmt.Errorf("class name %v is not a string", n)
			}
			out = append(out, s)
		}
		return out, nil
	case map[any]any:
		out := make([]string, len(v))
		var idx []int
		for k, n := range v {
			i, ok := k.(int)
			s, oks := n.(string)
			if !ok || !oks || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("want {0: 'name', 1: 'name', ...}")
			}
			out[i] = s
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for j, i := range idx {
			if i != j {
				return nil, fmt.Errorf("class indices are not 0..%d", len(v)-1)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a dict or a list")
}

func pyInt(v []any, i int) (int, bool) {
	if i >= len(v) {
		return 0, false
	}
	n, ok := v[i].(int)
	return n, ok
}

// parsePyLiteral parses the subset of Python literals that Ultralytics'
// metadata uses: dicts, lists, tuples, strings, ints, floats, True, False
// and None. Dicts become map[any]any, lists and tuples []any.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
	}
	return v, nil
}

type pyParser struct {
	s     string
	i     int
	depth int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.container('}', true)
	case c == '[':
		return p.container(']', false)
	case c == '(':
		return p.container(')', false)
	case c == '\'' || c == '"':
		return p.str(c)
	default:
		j := p.i
		for j < len(p.s) && !strings.ContainsRune(",:]})", rune(p.s[j])) {
			j++
		}
		tok := strings.TrimSpace(p.s[p.i:j])
		p.i = j
		switch tok {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
		if n, err := strconv.Atoi(tok); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(tok, 64); err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("unknown token %q", tok)
	}
}

// container parses {k: v, ...}, [v, ...] or (v, ...) up to its close.
func (p *pyParser) container(close byte, dict bool) (any, error) {
	if p.depth++; p.depth > 32 {
		return nil, fmt.Errorf("nested too deeply")
	}
	defer func() { p.depth-- }()
	p.i++ // the opening bracket
	m := map[any]any{}
	var l []any
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == close {
			p.i++
			if dict {
				return m, nil
			}
			return l, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if dict {
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("want ':' at offset %d", p.i)
			}
			p.i++
			val, err := p.value()
			if err != nil {
				return nil, err
			}
			switch v.(type) {
			case map[any]any, []any:
				return nil, fmt.Errorf("unhashable key at offset %d", p.i)
			}
			m[v] = val
		} else {
			l = append(l, v)
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i >= len(p.s) || p.s[p.i] != close {
			return nil, fmt.Errorf("want ',' or %q at offset %d", close, p.i)
		}
	}
}

// str parses a quoted string with Python's common escapes.
func (p *pyParser) str(q byte) (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.i+n >= len(p.s) {
					return "", fmt.Errorf("short \\%c escape", e)
				}
				r, err := strconv.ParseUint(p.s[p.i+1:p.i+1+n], 16, 32)
				if err != nil {
					return "", fmt.Errorf("bad \\%c escape: %w", e, err)
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}
