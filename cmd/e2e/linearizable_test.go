package e2e

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The cart as porcupine checks it: a list per session, which an addition
// appends to and a read returns. A state is the list's items joined by
// newlines (items never hold one), so that states compare with ==.
type cartInput struct {
	add  bool
	item string
}

// cartOutput is what an operation returned: the cart, unless the outcome
// is unknown (an addition that may have been applied, at any time).
type cartOutput struct {
	known bool
	cart  string
}

var cartModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(cartInput), output.(cartOutput)
		if in.add {
			next := in.item
			if s != "" {
				next = s + "\n" + in.item
			}
			// An addition answers with the cart it made.
			return !out.known || out.cart == next, next
		}
		return out.cart == s, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(cartInput), output.(cartOutput)
		if in.add {
			return fmt.Sprintf("add %s -> %v", in.item, describeCart(out))
		}
		return "read -> " + describeCart(out)
	},
}

func describeCart(out cartOutput) string {
	if !out.known {
		return "?"
	}
	return "[" + strings.ReplaceAll(out.cart, "\n", " ") + "]"
}

// verdict is what the histories of one round show.
type verdict struct {
	ops, unknown    int
	sessions        int
	nonLinearizable int // sessions whose history porcupine rejects
	timedOut        int // sessions porcupine could not decide in time
	lost            int // acknowledged additions missing from the final read
	stale           int // reads missing an acknowledged item that the final read holds
	doubled         int // sessions whose cart holds an item twice
	phantom         int // items in a cart that no addition wrote
	noFinal         int // sessions whose final read never answered
	explain         []string
}

// checkHistories checks every session's history of one round with
// porcupine, and counts apart what breaks linearizability.
func checkHistories(recs []record) verdict {
	var v verdict
	bySession := map[int][]record{}
	for _, r := range recs {
		if r.Kind == "members" {
			continue
		}
		v.ops++
		if r.Outcome == outcomeUnknown && r.Kind == "add" {
			v.unknown++
		}
		bySession[r.Shopper] = append(bySession[r.Shopper], r)
	}
	v.sessions = len(bySession)
	for s, ops := range bySession {
		v.checkSession(s, ops)
	}
	return v
}

func (v *verdict) checkSession(s int, ops []record) {
	var history []porcupine.Operation
	acked := map[string]int64{} // item -> when its addition returned
	written := map[string]bool{}
	var final []string
	hasFinal := false
	for _, r := range ops {
		if r.Kind == "add" {
			written[r.Item] = true
		}
		switch {
		case r.Outcome == outcomeOK:
			history = append(history, porcupine.Operation{ClientId: s, Input: cartInput{r.Kind == "add", r.Item},
				Call: r.Call, Output: cartOutput{true, strings.Join(r.Cart, "\n")}, Return: r.Return})
			if r.Kind == "add" {
				acked[r.Item] = r.Return
			}
			if r.Final {
				final, hasFinal = r.Cart, true
			}
		case r.Kind == "add" && r.Outcome == outcomeUnknown:
			// It may take effect at any time from its call on, but
			// before the first answer that shows its item; one that no
			// answer shows, the final read's included, was not applied
			// as far as anyone can tell. Each unknown left open doubles
			// porcupine's search.
			if seen := firstSeen(ops, r.Item); seen != 0 {
				history = append(history, porcupine.Operation{ClientId: s, Input: cartInput{true, r.Item},
					Call: r.Call, Output: cartOutput{}, Return: seen})
			}
		}
		// A failed addition was not applied, and a read that did not
		// answer tells nothing: neither is part of the history.
	}
	result, _ := porcupine.CheckOperationsVerbose(cartModel, history, 10*time.Second)
	if !hasFinal {
		v.noFinal++
		v.explain = append(v.explain, fmt.Sprintf("session %d: no final read answered", s))
	}
	var lost, stale, phantom []string
	doubled := false
	for item := range acked {
		if hasFinal && !slices.Contains(final, item) {
			lost = append(lost, item)
		}
	}
	for _, r := range ops {
		if r.Outcome != outcomeOK {
			continue
		}
		seen := map[string]bool{}
		for _, item := range r.Cart {
			if seen[item] {
				doubled = true
			}
			seen[item] = true
			if !written[item] {
				phantom = append(phantom, item)
			}
		}
		if r.Kind != "read" {
			continue
		}
		for item, at := range acked {
			if at < r.Call && !seen[item] && slices.Contains(final, item) {
				stale = append(stale, fmt.Sprintf("read at %s on %s missed %s", time.Unix(0, r.Call).Format("15:04:05.000"), r.Node, item))
				break
			}
		}
	}
	v.lost += len(lost)
	v.stale += len(stale)
	v.phantom += len(phantom)
	if doubled {
		v.doubled++
	}
	switch result {
	case porcupine.Illegal:
		v.nonLinearizable++
		slices.Sort(lost)
		why := fmt.Sprintf("session %d not linearizable: %d lost acknowledged additions %v, %d stale reads %v, doubled item: %v, items never written: %v",
			s, len(lost), head(lost, 5), len(stale), head(stale, 3), doubled, head(phantom, 3))
		v.explain = append(v.explain, why)
	case porcupine.Unknown:
		v.timedOut++
		v.explain = append(v.explain, fmt.Sprintf("session %d: porcupine did not decide in 10 s (%d operations)", s, len(history)))
	}
}

// firstSeen returns when the first answer that shows the item returned,
// or 0.
func firstSeen(ops []record, item string) int64 {
	var first int64
	for _, r := range ops {
		if r.Outcome == outcomeOK && slices.Contains(r.Cart, item) && (first == 0 || r.Return < first) {
			first = r.Return
		}
	}
	return first
}

func head[T any](s []T, n int) []T { return s[:min(len(s), n)] }
