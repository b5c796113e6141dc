package ring

import "errors"

// Errors returned by New and ParseAlgorithm, wrapped with the offending
// member or setting; compare them with errors.Is.
var (
	// ErrEmptyName reports a member whose Name is "".
	ErrEmptyName = errors.New("empty member name")

	// ErrDuplicateName reports two members with the same Name.
	ErrDuplicateName = errors.New("duplicate member name")

	// ErrBadWeight reports a weight that is negative, NaN or infinite, or
	// one the algorithm cannot express (Jump accepts only 1, Nginx only
	// whole numbers).
	ErrBadWeight = errors.New("bad member weight")

	// ErrUnknownAlgorithm reports an Algorithm this package does not know.
	ErrUnknownAlgorithm = errors.New("unknown algorithm")

	// ErrBadConfig reports a Config field out of its documented range.
	ErrBadConfig = errors.New("bad config")
)
