package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kind is the shape of a node.
type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

func (k kind) String() string {
	switch k {
	case kScalar:
		return "a value"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	return "null"
}

// node is a parsed document, the same for YAML and JSON, with line
// numbers where the input has them.
type node struct {
	kind kind
	line int
	// scalar holds a scalar's text; quoted says it was written as a string.
	scalar string
	quoted bool
	keys   []string
	vals   []*node
	items  []*node
}

// fromYAML converts a yaml.Node. Aliases are resolved; merge keys and
// tags other than the core ones are refused.
func fromYAML(y *yaml.Node, depth int) (*node, error) {
	if depth > 64 {
		return nil, fmt.Errorf("line %d: nested too deeply", y.Line)
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kNull, line: y.Line}, nil
		}
		return fromYAML(y.Content[0], depth+1)
	case yaml.AliasNode:
		return fromYAML(y.Alias, depth+1)
	case yaml.ScalarNode:
		if y.ShortTag() == "!!null" {
			return &node{kind: kNull, line: y.Line}, nil
		}
		return &node{kind: kScalar, line: y.Line, scalar: y.Value,
			quoted: y.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0}, nil
	case yaml.SequenceNode:
		n := &node{kind: kSeq, line: y.Line}
		for _, c := range y.Content {
			cn, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cn)
		}
		return n, nil
	case yaml.MappingNode:
		n := &node{kind: kMap, line: y.Line}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be plain names", k.Line)
			}
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			vn, err := fromYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.vals = append(n.vals, vn)
		}
		return n, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", y.Line)
}

// parseYAML parses a YAML stream into its documents (empty ones skipped).
func parseYAML(data []byte) ([]*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*node
	for {
		var y yaml.Node
		err := dec.Decode(&y)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		n, err := fromYAML(&y, 0)
		if err != nil {
			return nil, err
		}
		if n.kind != kNull {
			docs = append(docs, n)
		}
	}
	return docs, nil
}

// parseJSON parses one JSON value, keeping key order and line numbers.
func parseJSON(data []byte) (*node, error) {
	p := &jsonParser{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: JSON: unexpected data after the document", p.line())
	}
	return n, nil
}

type jsonParser struct {
	dec  *json.Decoder
	data []byte
}

func (p *jsonParser) line() int {
	off := int(p.dec.InputOffset())
	off = min(off, len(p.data))
	return 1 + bytes.Count(p.data[:off], []byte{'\n'})
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > 64 {
		return nil, fmt.Errorf("line %d: JSON nested too deeply", p.line())
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	line := p.lineOfTokenStart()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kMap, line: line}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				k, _ := kt.(string)
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return n, nil
		case '[':
			n := &node{kind: kSeq, line: line}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return n, nil
		}
	case nil:
		return &node{kind: kNull, line: line}, nil
	case string:
		return &node{kind: kScalar, line: line, scalar: t, quoted: true}, nil
	case json.Number:
		return &node{kind: kScalar, line: line, scalar: t.String()}, nil
	case bool:
		return &node{kind: kScalar, line: line, scalar: fmt.Sprint(t)}, nil
	}
	return nil, fmt.Errorf("line %d: JSON: unexpected token %v", line, tok)
}

// lineOfTokenStart is the line of the last token read: the offset is just
// past it, and a token never spans lines except a string with escapes.
func (p *jsonParser) lineOfTokenStart() int {
	off := min(int(p.dec.InputOffset()), len(p.data))
	if off > 0 {
		off--
	}
	return 1 + bytes.Count(p.data[:off], []byte{'\n'})
}

func (p *jsonParser) syntax(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("JSON: unexpected end of input")
	}
	return fmt.Errorf("line %d: JSON: %s", p.line(), strings.TrimPrefix(err.Error(), "json: "))
}
