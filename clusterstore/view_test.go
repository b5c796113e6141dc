package clusterstore

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

func entry(name string, boot int64, epoch uint64, dead bool) ventry {
	return ventry{Member: Member{Name: name, Role: "node", Data: "127.0.0.1:1", Weight: 1, Boot: boot, Epoch: epoch}, Dead: dead}
}

func TestViewsMergeToOneDigest(t *testing.T) {
	a := vector{"n1": entry("n1", 1, 0, false), "n2": entry("n2", 1, 0, false), "n3": entry("n3", 1, 0, false)}
	b := vector{"n1": entry("n1", 1, 0, false), "n2": entry("n2", 1, 0, true), "n4": entry("n4", 5, 0, false)}
	c := vector{"n2": entry("n2", 1, 1, false), "n3": entry("n3", 2, 0, false)}
	ab, _ := a.merge(b)
	ba, _ := b.merge(a)
	if ab.digest() != ba.digest() {
		t.Fatal("merging is not commutative")
	}
	abc, _ := ab.merge(c)
	bca, _ := b.merge(c)
	bca, _ = bca.merge(a)
	if abc.digest() != bca.digest() {
		t.Fatal("merging is not associative")
	}
	if again, changed := abc.merge(c); changed || again.digest() != abc.digest() {
		t.Fatal("merging is not idempotent")
	}
	for _, tc := range []struct {
		name string
		want ventry
	}{
		{"n2", entry("n2", 1, 1, false)}, // refuted its death at a higher epoch
		{"n3", entry("n3", 2, 0, false)}, // restarted: a later boot
		{"n4", entry("n4", 5, 0, false)}, // joined
	} {
		if got := abc[tc.name]; got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if e, _ := a.merge(b); !e["n2"].Dead {
		t.Error("dead does not win over alive at one epoch")
	}
	if a.digest() == ab.digest() {
		t.Error("different views share a digest")
	}
}

// TestBackupRefusesWriteFromNonOwner: a write replicated by a node that
// does not own the key under the view is refused, and not applied.
func TestBackupRefusesWriteFromNonOwner(t *testing.T) {
	nodes := startNodes(t, 2, 1, testKey)
	ctx := context.Background()
	tok := sessionkit.NewToken()
	h := tok.Hash()
	owners, _ := nodes[0].owners(h)
	owner, other := nodes[0], nodes[1]
	if owners[0] != owner.cfg.Name {
		owner, other = other, owner
	}
	later := time.Now().Add(time.Hour)
	m := message{kind: kindFull, write: true, h: h, version: 7, meta: sessionkit.Meta{IdleDeadline: later, Deadline: later}, values: map[string][]byte{"k": []byte("v")}}
	err := other.replicate(ctx, m, []string{owner.cfg.Name})
	if !errors.Is(err, errNotOwner) {
		t.Fatalf("a write from the key's backup: %v, want refused as not the owner", err)
	}
	if _, ok := owner.table.load(h); ok {
		t.Fatal("the refused write was applied")
	}
	// A copy (not a write) from the backup is taken: it is how sessions
	// are handed over.
	m.write = false
	if err := other.replicate(ctx, m, []string{owner.cfg.Name}); err != nil {
		t.Fatal(err)
	}
	if r, ok := owner.table.load(h); !ok || r.version != 7 {
		t.Fatal("the copy was not applied")
	}
}

func FuzzWire(f *testing.F) {
	f.Add([]byte(vector{"n1": entry("n1", 1, 2, true)}.encode(nil)))
	full := message{kind: kindFull, write: true, version: 3, values: map[string][]byte{"a": []byte("b")}}
	f.Add([]byte(encoder(nil).message(&full)))
	del := message{kind: kindDelta, version: 4, set: []sessionkit.Entry{{Key: "x"}}, deleted: []string{"y"}}
	f.Add([]byte(encoder(nil).message(&del)))
	f.Add([]byte(encoder(nil).tracedMessage(&full, map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})))
	withOps := message{kind: kindDelta, write: true, version: 5, set: []sessionkit.Entry{{Key: "c", Value: []byte("d")}}, ops: []uint64{1, 1 << 63}}
	f.Add([]byte(encoder(nil).tracedMessage(&withOps, map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newDecoder(b)
		if v := decodeVector(d); d.Err() == nil {
			d2 := newDecoder(v.encode(nil))
			if w := decodeVector(d2); d2.Err() != nil || !reflect.DeepEqual(v, w) {
				t.Fatalf("vector round trip: %+v, %+v, %v", v, w, d2.Err())
			}
		}
		d = newDecoder(b)
		if m, tr := d.tracedMessage(); d.Err() == nil {
			d2 := newDecoder(encoder(nil).tracedMessage(&m, tr))
			if m2, tr2 := d2.tracedMessage(); d2.Err() != nil || m2.kind != m.kind || m2.write != m.write || m2.version != m.version || len(m2.values) != len(m.values) || !slices.Equal(m2.deleted, m.deleted) || !slices.Equal(m2.ops, m.ops) || !maps.Equal(tr, tr2) {
				t.Fatalf("message round trip: %+v %v, %+v %v, %v", m, tr, m2, tr2, d2.Err())
			}
		}
	})
}

// TestLaterBootAfterClockStepBack: a node that hears of a former run of
// itself with a later boot stamp (its wall clock stepped back across a
// restart) takes a boot stamp after it, and the cluster sees it alive.
func TestLaterBootAfterClockStepBack(t *testing.T) {
	nodes := startNodes(t, 2, 1, testKey)
	n1 := nodes[0]
	former := entry(n1.cfg.Name, time.Now().Add(time.Hour).UnixNano(), 3, true)
	n1.learn(vector{n1.cfg.Name: former})
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, ok := nodes[1].view.Load().vec[n1.cfg.Name]
		if ok && e.Boot > former.Boot && !e.Dead && n1.Warm() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("n2 sees n1 as %+v (warm %v); want alive with a boot after %d", e, n1.Warm(), former.Boot)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
