package cli

import (
	"fmt"
	"strings"

	"github.com/sessionkit/sessionkit/router"
)

// parseMembers reads a member list given in the flag named flagName:
// "name=URL[,weight]" separated by spaces. A list separated by commas,
// the most common slip, is refused with the line to type instead.
func parseMembers(flagName, s string) ([]router.Member, error) {
	members, err := router.ParseMembers(strings.NewReader(s))
	if err == nil {
		return members, nil
	}
	for field := range strings.FieldsSeq(s) {
		// In "a=URL,b=URL" the weight after the first comma holds
		// another member's "=".
		_, rest, _ := strings.Cut(field, "=")
		if _, w, ok := strings.Cut(rest, ","); ok && strings.Contains(w, "=") {
			return nil, fmt.Errorf(`-%s: members are separated by spaces, not commas: -%s "a=http://10.0.0.1:8081 b=http://10.0.0.2:8081" (a comma after a URL starts its weight: a=http://10.0.0.1:8081,2)`, flagName, flagName)
		}
	}
	return nil, fmt.Errorf(`-%s: %w (want "name=URL[,weight]" separated by spaces, e.g. -%s "a=http://10.0.0.1:8081 b=http://10.0.0.2:8081,2")`, flagName, err, flagName)
}
