package images

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// hostTable is loopat's own table in mise.toml: [host] clis = ["aone", ...] declares host
// CLIs a loop may call through the host-exec forwarder. mise rejects unknown tables, so it is
// removed before mise sees the file.
const hostTable = "host"

var cliName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// ParseHostCLIs returns the [host].clis list of a mise.toml, validated as plain command
// names. A file without [host] yields nil.
func ParseHostCLIs(miseToml []byte) ([]string, error) {
	var doc map[string]any
	if err := toml.Unmarshal(miseToml, &doc); err != nil {
		return nil, fmt.Errorf("parse mise.toml: %w", err)
	}
	host, ok := doc[hostTable]
	if !ok {
		return nil, nil
	}
	table, ok := host.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("mise.toml: [host] must be a table")
	}
	raw, ok := table["clis"]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("mise.toml: [host].clis must be an array of strings")
	}
	var clis []string
	seen := map[string]bool{}
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("mise.toml: [host].clis must be an array of strings, found %v", v)
		}
		if !cliName.MatchString(s) {
			return nil, fmt.Errorf("mise.toml: [host].clis entry %q is not a command name (letters, digits, . _ + -)", s)
		}
		if !seen[s] {
			seen[s] = true
			clis = append(clis, s)
		}
	}
	return clis, nil
}

// StripHostTable removes the [host] table (with its sub-tables and any top-level host.* or
// host = {...} keys) from a mise.toml by editing the text, so the user's other lines,
// comments and order stay exactly as written. Comments directly above the next table stay.
func StripHostTable(miseToml []byte) ([]byte, error) {
	type expr struct {
		start  int  // offset of the line the expression starts on
		host   bool // part of loopat's host table
		header bool // a [table] or [[table]] line
		cmt    bool
	}
	p := unstable.Parser{KeepComments: true}
	p.Reset(miseToml)
	var exprs []expr
	inHost, sawHeader := false, false
	for p.NextExpression() {
		n := p.Expression()
		var first *unstable.Node
		e := expr{}
		switch n.Kind {
		case unstable.Comment:
			e.cmt = true
			e.start = lineStart(miseToml, int(n.Raw.Offset))
			e.host = inHost
		case unstable.Table, unstable.ArrayTable:
			first = n.Child()
			e.header = true
			sawHeader = true
			inHost = string(first.Data) == hostTable
			e.host = inHost
			e.start = lineStart(miseToml, int(first.Raw.Offset))
		case unstable.KeyValue:
			it := n.Key()
			it.Next()
			first = it.Node()
			e.start = lineStart(miseToml, int(first.Raw.Offset))
			// Before any table header a dotted host.x key or host = {...} is the host table too.
			e.host = inHost || (!sawHeader && string(first.Data) == hostTable)
		default:
			continue
		}
		exprs = append(exprs, e)
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("parse mise.toml: %w", err)
	}

	// Comments that end a host table but sit directly above the next table belong to it.
	for i := len(exprs) - 1; i >= 0; i-- {
		if !exprs[i].cmt || !exprs[i].host {
			continue
		}
		if i+1 < len(exprs) && exprs[i+1].header && !exprs[i+1].host {
			for j := i; j >= 0 && exprs[j].cmt && exprs[j].host; j-- {
				exprs[j].host = false
			}
		}
	}

	var out bytes.Buffer
	cursor := 0
	for i, e := range exprs {
		end := len(miseToml)
		if i+1 < len(exprs) {
			end = exprs[i+1].start
		}
		if i == 0 && e.start > 0 {
			out.Write(miseToml[:e.start]) // leading blank lines
		}
		if !e.host {
			out.Write(miseToml[e.start:end])
		}
		cursor = end
	}
	if len(exprs) == 0 {
		out.Write(miseToml)
	} else {
		out.Write(miseToml[cursor:])
	}

	// The result must still be TOML mise can read, and free of loopat's table.
	var check map[string]any
	if err := toml.Unmarshal(out.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("mise.toml without [host] does not parse: %w", err)
	}
	if _, ok := check[hostTable]; ok {
		return nil, fmt.Errorf("mise.toml: could not remove the [host] table")
	}
	return out.Bytes(), nil
}

func lineStart(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	return bytes.LastIndexByte(b[:off], '\n') + 1
}

// hostShim is the script a declared host CLI gets on PATH: it hands its argv to the forwarder.
func hostShim(cli string) []byte {
	return []byte("#!/bin/sh\nexec loopat-host '" + cli + "' \"$@\"\n")
}
