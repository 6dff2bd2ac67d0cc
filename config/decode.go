package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Errors is every problem found in a config, each naming its field.
type Errors []FieldError

// FieldError is one problem at one field path.
type FieldError struct {
	Path string // e.g. cameras[2].sampling.fps
	Msg  string
	Line int // 0 when unknown
}

func (e FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", e.Path, e.Msg, e.Line)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Duration is a time.Duration written as "10s", "2m", "1h30m".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a duration such as 10s or 5m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("expected a duration such as 10s or 5m, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// DecodeStrict decodes YAML into v, walking the node tree itself so every
// error (unknown key, wrong type) carries the field's full path. Other
// files with the same conventions (model manifests) use it too.
func DecodeStrict(data []byte, v any) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty or comment-only file
			return Errors{{Path: "(file)", Msg: "empty config"}}
		}
		return Errors{{Path: "(file)", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var errs Errors
	walk(&doc, reflect.ValueOf(v).Elem(), "", &errs)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func walk(n *yaml.Node, v reflect.Value, path string, errs *Errors) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			walk(n.Content[0], v, path, errs)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // an empty key keeps the zero value, the default applies
	}
	at := func(msg string) {
		*errs = append(*errs, FieldError{Path: orRoot(path), Msg: msg, Line: n.Line})
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			at(strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			at("expected a mapping of fields")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(v, key.Value)
			if !ok {
				*errs = append(*errs, FieldError{Path: join(path, key.Value), Msg: "unknown field", Line: key.Line})
				continue
			}
			walk(val, f, join(path, key.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			at("expected a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			walk(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
		v.Set(s)
	case reflect.Array:
		if n.Kind != yaml.SequenceNode || len(n.Content) != v.Len() {
			at(fmt.Sprintf("expected a list of %d values", v.Len()))
			return
		}
		for i, item := range n.Content {
			walk(item, v.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			at("expected a mapping")
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			walk(val, elem, join(path, key.Value), errs)
			m.SetMapIndex(reflect.ValueOf(key.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	case reflect.Interface:
		// Free-form content (e.g. evaluation numbers): decoded as is.
		if err := n.Decode(v.Addr().Interface()); err != nil {
			at(strings.TrimPrefix(err.Error(), "yaml: "))
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		walk(n, p.Elem(), path, errs)
		v.Set(p)
	default:
		if n.Kind != yaml.ScalarNode {
			at(fmt.Sprintf("expected a %s value", kindName(v.Kind())))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			at(fmt.Sprintf("expected a %s value, got %q", kindName(v.Kind()), n.Value))
		}
	}
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "true/false"
	case reflect.String:
		return "text"
	}
	return k.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(file)"
	}
	return path
}
