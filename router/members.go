package router

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Member is one backend node.
type Member struct {
	// Name is the node's stable name. The ring hashes it, so a node
	// keeps its keys when its address changes.
	Name string `json:"name"`
	// URL is where the node serves, such as "http://127.0.0.1:8081".
	URL string `json:"url"`
	// Weight is the node's share of keys relative to the others.
	// Default 1.
	Weight float64 `json:"weight,omitempty"`
}

func (m *Member) check() error {
	if m.Name == "" || strings.ContainsAny(m.Name, " \t\n=,") {
		return fmt.Errorf("router: bad member name %q", m.Name)
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("router: member %s: bad URL %q (want http://host:port)", m.Name, m.URL)
	}
	if m.Weight < 0 {
		return fmt.Errorf("router: member %s: negative weight", m.Name)
	}
	if m.Weight == 0 {
		m.Weight = 1
	}
	return nil
}

// ParseMember parses "name=URL[,weight]".
func ParseMember(s string) (Member, error) {
	name, rest, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Member{}, fmt.Errorf("router: member %q: want name=URL[,weight]", s)
	}
	m := Member{Name: name, URL: rest}
	if u, w, ok := strings.Cut(rest, ","); ok {
		weight, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return Member{}, fmt.Errorf("router: member %q: bad weight %q", s, w)
		}
		m.URL, m.Weight = u, weight
	}
	return m, m.check()
}

// ParseMembers parses members separated by white space or new lines; a
// line starting with # is a comment.
func ParseMembers(r io.Reader) ([]Member, error) {
	var members []Member
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for field := range strings.FieldsSeq(line) {
			m, err := ParseMember(field)
			if err != nil {
				return nil, err
			}
			members = append(members, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return members, checkMembers(members)
}

func checkMembers(members []Member) error {
	names := make([]string, 0, len(members))
	for i := range members {
		if err := members[i].check(); err != nil {
			return err
		}
		names = append(names, members[i].Name)
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return fmt.Errorf("router: member %s listed twice", names[i])
		}
	}
	return nil
}
