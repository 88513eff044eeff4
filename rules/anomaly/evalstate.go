package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// Group state file, version 1 (little endian), one per group:
//
//	"FWAE" 1 | rules uint32 | per rule: key string | series uint32 |
//	  per series: labels uint16 × (name string, value string) |
//	  lastSeen int64 | lastScore float64 | lastSent int64 |
//	  alert state uint8, activeAt, firedAt, resolvedAt, keepSince int64 |
//	  detector (see state.go)
//
// Strings are uint32 length + bytes. Rules are matched by name and expr on
// load; state of rules no longer in the group is dropped.

const groupMagic = "FWAE\x01"

// statePath is the group's state file: a readable prefix and a hash of the
// rule file and group name.
func (e *Evaluator) statePath(g *Group) string {
	h := fnv.New64a()
	h.Write([]byte(g.File + "\x00" + g.Name))
	safe := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, g.Name)
	if len(safe) > 40 {
		safe = safe[:40]
	}
	return filepath.Join(e.opts.StateDir, fmt.Sprintf("%s-%016x.anomaly", safe, h.Sum64()))
}

// SaveState writes every group's state to StateDir (atomically per group).
func (e *Evaluator) SaveState() error {
	if e.opts.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(e.opts.StateDir, 0o755); err != nil {
		e.m.saveErrors.Inc()
		return fmt.Errorf("anomaly state dir: %w", err)
	}
	var errs []error
	for _, gs := range e.groups {
		gs.mu.Lock()
		data := gs.encode()
		gs.mu.Unlock()
		if err := writeAtomic(e.statePath(gs.g), data); err != nil {
			e.m.saveErrors.Inc()
			errs = append(errs, fmt.Errorf("group %q: %w", gs.g.Name, err))
		}
	}
	return errors.Join(errs...)
}

// LoadState reads the groups' state from StateDir. A missing file is not an
// error; a damaged one is reported and that group starts empty.
func (e *Evaluator) LoadState() error {
	if e.opts.StateDir == "" {
		return nil
	}
	var errs []error
	for _, gs := range e.groups {
		path := e.statePath(gs.g)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			gs.mu.Lock()
			err = gs.decode(data)
			gs.mu.Unlock()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("group %q: %s: %w", gs.g.Name, path, err))
		}
	}
	return errors.Join(errs...)
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func appendStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func (gs *groupState) encode() []byte {
	le := binary.LittleEndian
	b := append([]byte(nil), groupMagic...)
	b = le.AppendUint32(b, uint32(len(gs.rules)))
	for _, rs := range gs.rules {
		b = appendStr(b, rs.r.key())
		b = le.AppendUint32(b, uint32(rs.count))
		for _, list := range rs.series {
			for _, s := range list {
				b = le.AppendUint16(b, uint16(s.lset.Len()))
				s.lset.Range(func(l labels.Label) {
					b = appendStr(b, l.Name)
					b = appendStr(b, l.Value)
				})
				b = le.AppendUint64(b, uint64(s.lastSeen))
				b = le.AppendUint64(b, math.Float64bits(s.lastScore))
				b = le.AppendUint64(b, uint64(s.lastSent))
				a := s.alert
				b = append(b, a.State)
				for _, v := range []int64{a.ActiveAt, a.FiredAt, a.ResolvedAt, a.KeepSince} {
					b = le.AppendUint64(b, uint64(v))
				}
				b, _ = s.det.AppendBinary(b)
			}
		}
	}
	return b
}

// decode restores state into the group's current rules. It is all or
// nothing: on error the group's state is left as it was.
func (gs *groupState) decode(data []byte) error {
	r := reader{b: data}
	if m := r.next(len(groupMagic)); string(m) != groupMagic {
		return fmt.Errorf("%w: not an anomaly group state file", ErrBadState)
	}
	byKey := map[string]*ruleState{}
	for _, rs := range gs.rules {
		byKey[rs.r.key()] = rs
	}
	restored := map[*ruleState]map[uint64][]*series{}
	counts := map[*ruleState]int{}
	nr := int(r.u32())
	for i := 0; i < nr && r.err == nil; i++ {
		key := r.str()
		rs := byKey[key]
		params := &Params{Window: MaxWindow}
		if rs != nil {
			params = &rs.r.Params
			restored[rs] = map[uint64][]*series{}
		}
		ns := int(r.u32())
		for j := 0; j < ns && r.err == nil; j++ {
			nl := int(r.u16())
			sb := labels.NewScratchBuilder(nl)
			for k := 0; k < nl && r.err == nil; k++ {
				name := r.str()
				sb.Add(name, r.str())
			}
			sb.Sort()
			s := &series{lset: sb.Labels()}
			s.lastSeen = int64(r.u64())
			s.lastScore = math.Float64frombits(r.u64())
			s.lastSent = int64(r.u64())
			s.alert.State = r.next(1)[0]
			s.alert.ActiveAt = int64(r.u64())
			s.alert.FiredAt = int64(r.u64())
			s.alert.ResolvedAt = int64(r.u64())
			s.alert.KeepSince = int64(r.u64())
			if r.err != nil {
				break
			}
			if s.alert.State > stateFiring {
				return fmt.Errorf("%w: rule %d series %d: alert state %d", ErrBadState, i, j, s.alert.State)
			}
			s.det = NewDetector(params)
			rest, err := s.det.decode(r.b)
			if err != nil {
				return fmt.Errorf("rule %d series %s: %w", i, s.lset, err)
			}
			r.b = rest
			if rs != nil {
				h := s.lset.Hash()
				restored[rs][h] = append(restored[rs][h], s)
				counts[rs]++
			}
		}
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, r.err)
	}
	for rs, m := range restored {
		rs.series = m
		rs.count = counts[rs]
	}
	return nil
}
