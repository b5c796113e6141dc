package clusterstore

import "github.com/sessionkit/sessionkit"

// The replication message's codec (message.encode and decodeMessage, in
// table.go) is written against enc and dec, short names that forward to
// encoder and decoder; encoder.message and decoder.message are how the
// rest of the package reads and writes messages.

func (e encoder) message(m *message) encoder { return encoder(m.encode(enc(e))) }

func (d *decoder) message() message {
	short := dec{b: d.rest, err: d.err}
	m := decodeMessage(&short)
	d.rest, d.err = short.b, short.err
	return m
}

type enc []byte

func (e enc) h(v [32]byte) enc               { return enc(encoder(e).hash(v)) }
func (e enc) u(v uint64) enc                 { return enc(encoder(e).uvarint(v)) }
func (e enc) s(v string) enc                 { return enc(encoder(e).string(v)) }
func (e enc) meta(m *sessionkit.Meta) enc    { return enc(encoder(e).meta(m)) }
func (e enc) values(v map[string][]byte) enc { return enc(encoder(e).values(v)) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() { d.b, d.err = nil, errMalformed }

func (d *dec) h() [32]byte {
	r := decoder{rest: d.b, err: d.err}
	v := r.hash()
	d.b, d.err = r.rest, r.err
	return v
}

func (d *dec) u() uint64 {
	r := decoder{rest: d.b, err: d.err}
	v := r.uvarint()
	d.b, d.err = r.rest, r.err
	return v
}

func (d *dec) s() string {
	r := decoder{rest: d.b, err: d.err}
	v := r.string()
	d.b, d.err = r.rest, r.err
	return v
}

func (d *dec) meta() sessionkit.Meta {
	r := decoder{rest: d.b, err: d.err}
	v := r.meta()
	d.b, d.err = r.rest, r.err
	return v
}

func (d *dec) values() map[string][]byte {
	r := decoder{rest: d.b, err: d.err}
	v := r.values()
	d.b, d.err = r.rest, r.err
	return v
}
