package cookiestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/bin"
)

// The sealed token, before base64url (unpadded):
//
//	version  1 byte   formatVersion
//	flags    1 byte   bits 0-1 compression (0 none, 1 S2, 2 zstd),
//	                  bit 2 cipher (0 XChaCha20-Poly1305, 1 AES-256-GCM),
//	                  other bits zero
//	key ID   1 byte   derived from the key (see newRingKey)
//	nonce    24 bytes (XChaCha20-Poly1305) or 12 (AES-256-GCM), random
//	sealed   the payload, compressed or not, and the 16-byte tag
//
// The associated data is "sessionkit/cookiestore", the purpose, the cookie
// name (each followed by a zero byte) and the three header bytes, so no
// header bit can be flipped and no value moved to another cookie.
//
// The payload:
//
//	flags         1 byte: bit 0 persistent, bit 1 session ID present,
//	              bit 2 idle timeout in nanoseconds (else milliseconds)
//	created       varint, Unix milliseconds
//	idle deadline varint, milliseconds after created
//	deadline      varint, milliseconds after created
//	idle timeout  varint, in the unit flags give
//	principal     uvarint length, bytes
//	generation    uvarint
//	session ID    16 bytes, when flagged
//	values        uvarint count, then per value: uvarint key length, key,
//	              uvarint value length, value
const (
	formatVersion = 1
	headerLen     = 3
	tagLen        = 16
	sidLen        = 16

	flagCompression = 0x03
	flagGCM         = 0x04
	flagsKnown      = flagCompression | flagGCM

	compressNone = 0
	compressS2   = 1
	compressZstd = 2

	pPersistent = 0x01
	pSID        = 0x02
	pIdleNanos  = 0x04
	pKnown      = pPersistent | pSID | pIdleNanos

	// minPayload is the shortest payload: flags, four one-byte varints,
	// an empty principal, generation 0 and no values.
	minPayload = 8
)

var errFormat = errors.New("cookiestore: malformed payload")

// payload is what a cookie holds.
type payload struct {
	meta   sessionkit.Meta
	sid    []byte // sidLen bytes, or nil
	values map[string][]byte
}

func (p *payload) record() sessionkit.Record {
	return sessionkit.Record{Meta: p.meta, Values: p.values}
}

// size returns an upper bound of the encoded payload's length.
func (p *payload) size() int {
	n := 1 + 4*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(p.meta.Principal) + binary.MaxVarintLen64 + sidLen + binary.MaxVarintLen64
	for k, v := range p.values {
		n += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	return n
}

// appendPayload appends the encoded payload to b.
func appendPayload(b []byte, p *payload) []byte {
	m := &p.meta
	var flags byte
	if m.Persistent {
		flags |= pPersistent
	}
	if p.sid != nil {
		flags |= pSID
	}
	idle := int64(m.IdleTimeout)
	if idle%int64(time.Millisecond) == 0 {
		idle /= int64(time.Millisecond)
	} else {
		flags |= pIdleNanos
	}
	created := m.Created.UnixMilli()
	b = append(b, flags)
	b = binary.AppendVarint(b, created)
	b = binary.AppendVarint(b, m.IdleDeadline.UnixMilli()-created) // wraps, and wraps back
	b = binary.AppendVarint(b, m.Deadline.UnixMilli()-created)
	b = binary.AppendVarint(b, idle)
	b = bin.Append(b, m.Principal)
	b = binary.AppendUvarint(b, m.Generation)
	b = append(b, p.sid...)
	b = binary.AppendUvarint(b, uint64(len(p.values)))
	for k, v := range p.values {
		b = bin.Append(bin.Append(b, k), v)
	}
	return b
}

// decodePayload decodes a payload. Its values, keys and principal share
// b's memory, without copies: the caller must never modify or reuse b.
func decodePayload(b []byte) (*payload, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", errFormat)
	}
	// Keys are strings over b, so that they need no allocation each.
	// Values are capped slices of b and nothing writes to b, so the
	// strings never change.
	r := bin.NewSharedReader(b, errFormat)
	p := &payload{}
	m := &p.meta
	flags := r.Byte()
	if flags&^pKnown != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errFormat, flags)
	}
	created := r.Varint()
	idleDL := r.Varint()
	dl := r.Varint()
	idle := r.Varint()
	if flags&pIdleNanos == 0 {
		if idle > math.MaxInt64/int64(time.Millisecond) || idle < math.MinInt64/int64(time.Millisecond) {
			r.Fail("idle timeout out of range")
		}
		idle *= int64(time.Millisecond)
	}
	m.Persistent = flags&pPersistent != 0
	m.IdleTimeout = time.Duration(idle)
	m.Created = time.UnixMilli(created).UTC()
	m.IdleDeadline = time.UnixMilli(created + idleDL).UTC()
	m.Deadline = time.UnixMilli(created + dl).UTC()
	m.Principal = r.Str()
	m.Generation = r.Uvarint()
	if flags&pSID != 0 {
		if r.Len() < sidLen {
			r.Fail("truncated session ID")
		} else {
			p.sid = r.Fixed(sidLen)
		}
	}
	n := r.Length(2) // each value takes two bytes at least
	if r.Err() != nil {
		return nil, r.Err()
	}
	if n > 0 {
		p.values = make(map[string][]byte, n)
	}
	for range n {
		k := r.Str()
		v := r.Bytes()
		if r.Err() != nil {
			return nil, r.Err()
		}
		if _, dup := p.values[k]; dup {
			return nil, fmt.Errorf("%w: key listed twice", errFormat)
		}
		p.values[k] = v
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errFormat, r.Len())
	}
	return p, nil
}

var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // constant options
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			panic(err) // constant options
		}
		return d
	})
)

// s2Buffers holds the scratch buffers of S2 compression.
var s2Buffers = sync.Pool{New: func() any { return new([]byte) }}

// compress compresses src with c and appends the result to dst, when that
// makes it smaller. It returns dst unchanged and compressNone otherwise.
// dst may overlap src: src is read in full before dst is written.
func compress(c Compression, dst, src []byte) ([]byte, byte) {
	switch c {
	case S2:
		bp := s2Buffers.Get().(*[]byte)
		defer s2Buffers.Put(bp)
		if need := s2.MaxEncodedLen(len(src)); cap(*bp) < need {
			*bp = make([]byte, need)
		}
		if out := s2.Encode((*bp)[:cap(*bp)], src); len(out) < len(src) {
			return append(dst, out...), compressS2
		}
	case Zstd:
		// decompress needs the frame's content size to bound its output,
		// and the encoder leaves it out of frames of small inputs: those
		// stay uncompressed.
		out := zstdEncoder().EncodeAll(src, make([]byte, 0, len(src)))
		var h zstd.Header
		if len(out) < len(src) && h.Decode(out) == nil && h.HasFCS {
			return append(dst, out...), compressZstd
		}
	}
	return dst, compressNone
}

// decompress undoes compress, refusing output over max bytes before it
// allocates it.
func decompress(flag byte, src []byte, max int) ([]byte, error) {
	switch flag {
	case compressNone:
		return src, nil
	case compressS2:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > max {
			return nil, fmt.Errorf("cookiestore: %d bytes decompressed, over the cap of %d", n, max)
		}
		return s2.Decode(make([]byte, n), src)
	case compressZstd:
		var h zstd.Header
		if err := h.Decode(src); err != nil {
			return nil, err
		}
		if !h.HasFCS || h.FrameContentSize > uint64(max) {
			return nil, fmt.Errorf("cookiestore: zstd frame of unknown or too large size (cap %d)", max)
		}
		return zstdDecoder().DecodeAll(src, make([]byte, 0, h.FrameContentSize))
	}
	return nil, fmt.Errorf("%w: unknown compression %d", errFormat, flag)
}
