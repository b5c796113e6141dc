package clusterstore

import (
	"bytes"
	"maps"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestUntracedMessagesUnchanged: a message without a trace context is
// encoded as before tracing existed, so that a node that does not trace
// talks to older nodes as they do; one with a trace context carries it to
// the reader, and a reader that does not care still reads the message.
func TestUntracedMessagesUnchanged(t *testing.T) {
	m := message{kind: kindDelta, write: true, version: 7, set: []sessionkit.Entry{{Key: "cart", Value: []byte("3")}}, deleted: []string{"flash"}}
	plain := encoder(nil).message(&m)
	if got := encoder(nil).tracedMessage(&m, nil); !bytes.Equal(got, plain) {
		t.Fatalf("untraced message %x, want %x", got, plain)
	}
	carrier := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=v"}
	traced := encoder(nil).tracedMessage(&m, carrier)
	if traced[0] != plain[0]|traceBit || !bytes.Equal(traced[1:len(plain)], plain[1:]) {
		t.Fatalf("traced message %x does not begin as %x with the trace bit", traced, plain)
	}
	d := newDecoder(traced)
	got, tr := d.tracedMessage()
	if d.Err() != nil || got.kind != m.kind || !got.write || got.version != m.version || !maps.Equal(tr, carrier) {
		t.Fatalf("read %+v %v (%v), want %+v %v", got, tr, d.Err(), m, carrier)
	}
	if d.Len() != 0 {
		t.Fatalf("%d bytes left after the message", d.Len())
	}
	d = newDecoder(traced)
	if got := d.message(); d.Err() != nil || got.version != m.version {
		t.Fatalf("message() on a traced message: %+v, %v", got, d.Err())
	}
}
