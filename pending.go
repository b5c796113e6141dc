package sessionkit

// pending holds the values a request set, each key once: a Delta's Set as
// it is. A request sets a key or two, which a scan finds sooner than a map
// hashes, and without a map's two allocations; from indexFrom keys on, a
// map indexes them, so that a request setting many keys stays linear.
type pending struct {
	list  []Entry
	index map[string]int // each key's position in list, once list is long
}

const indexFrom = 16

// find returns key's position in list, or -1.
func (p *pending) find(key string) int {
	if p.index != nil {
		if i, ok := p.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range p.list {
		if p.list[i].Key == key {
			return i
		}
	}
	return -1
}

func (p *pending) get(key string) ([]byte, bool) {
	if i := p.find(key); i >= 0 {
		return p.list[i].Value, true
	}
	return nil, false
}

func (p *pending) has(key string) bool { return p.find(key) >= 0 }

func (p *pending) put(key string, b []byte) {
	if i := p.find(key); i >= 0 {
		p.list[i].Value = b
		return
	}
	p.list = append(p.list, Entry{Key: key, Value: b})
	switch {
	case p.index != nil:
		p.index[key] = len(p.list) - 1
	case len(p.list) >= indexFrom:
		p.index = make(map[string]int, 2*len(p.list))
		for i, e := range p.list {
			p.index[e.Key] = i
		}
	}
}

// del removes key, moving the last entry into its place.
func (p *pending) del(key string) {
	i := p.find(key)
	if i < 0 {
		return
	}
	last := len(p.list) - 1
	if p.index != nil {
		delete(p.index, key)
		if i != last {
			p.index[p.list[last].Key] = i
		}
	}
	p.list[i] = p.list[last]
	p.list[last] = Entry{}
	p.list = p.list[:last]
}

func (p *pending) len() int { return len(p.list) }

// size returns the lengths of the keys and values added up.
func (p *pending) size() int {
	n := 0
	for _, e := range p.list {
		n += len(e.Key) + len(e.Value)
	}
	return n
}

// entryMap returns es as a map, nil for none.
func entryMap(es []Entry) map[string][]byte {
	if len(es) == 0 {
		return nil
	}
	m := make(map[string][]byte, len(es))
	for _, e := range es {
		m[e.Key] = e.Value
	}
	return m
}
