package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Detector state encoding, version 1 (little endian):
//
//	"FWAD" 1 | n uint16 | n × float32 (window, oldest first) | seen uint32 |
//	mean float64 | variance float64 | first int64 | last int64 |
//	k uint16 | k × float32 (seasonal buckets, NaN = not visited)
//
// Parameters are not part of the state: they come from the rule. A state
// written with a larger window keeps its newest values; seasonal buckets are
// dropped when the bucket count changed.

const detectorMagic = "FWAD\x01"

// ErrBadState is returned (wrapped) for state that cannot be decoded.
var ErrBadState = errors.New("bad anomaly detector state")

// MarshalBinary encodes the detector's learned state.
func (d *Detector) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(nil)
}

// AppendBinary appends the encoding of MarshalBinary to b.
func (d *Detector) AppendBinary(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	b = append(b, detectorMagic...)
	b = le.AppendUint16(b, d.n)
	w := d.p.Window
	ring := d.buf[:w]
	start := (int(d.head) - int(d.n) + w) % w
	for i := 0; i < int(d.n); i++ {
		b = le.AppendUint32(b, math.Float32bits(ring[(start+i)%w]))
	}
	b = le.AppendUint32(b, d.seen)
	b = le.AppendUint64(b, math.Float64bits(d.mean))
	b = le.AppendUint64(b, math.Float64bits(d.vari))
	b = le.AppendUint64(b, uint64(d.first))
	b = le.AppendUint64(b, uint64(d.last))
	b = le.AppendUint16(b, uint16(len(d.season)))
	for _, v := range d.season {
		b = le.AppendUint32(b, math.Float32bits(v))
	}
	return b, nil
}

// UnmarshalBinary restores state written by MarshalBinary into a detector
// made by NewDetector (its params decide the window and buckets).
func (d *Detector) UnmarshalBinary(data []byte) error {
	_, err := d.decode(data)
	return err
}

// decode reads one encoded detector from data and returns the bytes after it.
func (d *Detector) decode(data []byte) ([]byte, error) {
	le := binary.LittleEndian
	r := reader{b: data}
	if m := r.next(len(detectorMagic)); m == nil || string(m) != detectorMagic {
		return nil, fmt.Errorf("%w: missing header", ErrBadState)
	}
	n := int(r.u16())
	if r.err == nil && len(r.b) < 4*n {
		return nil, fmt.Errorf("%w: window of %d values is truncated", ErrBadState, n)
	}
	vals := make([]float32, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		v := math.Float32frombits(r.u32())
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: window value %d is not finite", ErrBadState, i)
		}
		vals = append(vals, v)
	}
	seen := r.u32()
	mean := math.Float64frombits(r.u64())
	vari := math.Float64frombits(r.u64())
	first := int64(r.u64())
	last := int64(r.u64())
	k := int(r.u16())
	if r.err == nil && len(r.b) < 4*k {
		return nil, fmt.Errorf("%w: %d seasonal buckets are truncated", ErrBadState, k)
	}
	season := make([]float32, k)
	for i := range season {
		season[i] = math.Float32frombits(le.Uint32(r.next(4)))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadState, r.err)
	}
	if math.IsNaN(mean) || math.IsNaN(vari) || vari < 0 {
		return nil, fmt.Errorf("%w: EWMA mean/variance out of range", ErrBadState)
	}

	fresh := NewDetector(d.p)
	*d = *fresh
	if len(vals) > d.p.Window {
		vals = vals[len(vals)-d.p.Window:]
	}
	for _, v := range vals {
		d.push(v)
	}
	d.seen, d.mean, d.vari, d.first, d.last = seen, mean, vari, first, last
	if len(season) == len(d.season) {
		copy(d.season, season)
	}
	return r.b, nil
}

// reader is a bounds-checked little-endian reader.
type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n < 0 || len(r.b) < n {
		r.err = errors.New("unexpected end of data")
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u16() uint16 { return binary.LittleEndian.Uint16(r.next(2)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.next(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.next(8)) }
func (r *reader) str() string {
	n := int(r.u32())
	if r.err == nil && n > len(r.b) {
		r.err = fmt.Errorf("string of %d bytes is truncated", n)
		return ""
	}
	return string(r.next(n))
}
