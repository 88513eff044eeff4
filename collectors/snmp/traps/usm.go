package traps

import (
	"errors"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// maxEngines bounds how many (engine ID, user) pairs have localized keys,
// so that a sender spraying engine IDs cannot grow memory without end.
const maxEngines = 65536

// usmKeys keeps one security-parameters table per sender engine ID and
// user: v3 keys are localized with the engine ID of the device that sends
// the trap, learnt from the trap itself.
type usmKeys struct {
	users map[string]*gosnmp.UsmSecurityParameters // by user name

	mu     sync.Mutex
	tables map[string]*gosnmp.SnmpV3SecurityParametersTable // engineID + "\x00" + user
}

func newUSMKeys() *usmKeys {
	return &usmKeys{users: map[string]*gosnmp.UsmSecurityParameters{}, tables: map[string]*gosnmp.SnmpV3SecurityParametersTable{}}
}

// table returns the table for a v3 packet's engine ID and user, nil for an
// unknown user.
func (k *usmKeys) table(engineID, user string) (*gosnmp.SnmpV3SecurityParametersTable, error) {
	base, ok := k.users[user]
	if !ok {
		return nil, errors.New("unknown user")
	}
	key := engineID + "\x00" + user
	k.mu.Lock()
	defer k.mu.Unlock()
	if t, ok := k.tables[key]; ok {
		return t, nil
	}
	if len(k.tables) >= maxEngines {
		return nil, errors.New("too many engine IDs")
	}
	sp := base.Copy().(*gosnmp.UsmSecurityParameters)
	sp.AuthoritativeEngineID = engineID
	sp.SecretKey, sp.PrivacyKey = nil, nil
	t := gosnmp.NewSnmpV3SecurityParametersTable(gosnmp.Logger{})
	if err := t.Add(user, sp); err != nil {
		return nil, err
	}
	k.tables[key] = t
	return t, nil
}

// tlv reads one BER element at b[0]: its tag, content and the rest.
func tlv(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	n := int(b[1])
	i := 2
	if n&0x80 != 0 {
		octets := n & 0x7f
		if octets == 0 || octets > 3 || len(b) < 2+octets {
			return 0, nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+octets] {
			n = n<<8 | int(c)
		}
		i += octets
	}
	if n < 0 || len(b) < i+n {
		return 0, nil, nil, false
	}
	return tag, b[i : i+n], b[i+n:], true
}

// v3EngineUser reads msgAuthoritativeEngineID and msgUserName from an
// SNMPv3 message without decrypting it.
func v3EngineUser(pkt []byte) (engineID, user string, ok bool) {
	tag, msg, _, ok := tlv(pkt)
	if !ok || tag != 0x30 {
		return "", "", false
	}
	// version, msgGlobalData
	if _, _, msg, ok = tlv(msg); !ok {
		return "", "", false
	}
	if _, _, msg, ok = tlv(msg); !ok {
		return "", "", false
	}
	tag, secParams, _, ok := tlv(msg)
	if !ok || tag != 0x04 {
		return "", "", false
	}
	tag, usm, _, ok := tlv(secParams)
	if !ok || tag != 0x30 {
		return "", "", false
	}
	tag, eng, usm, ok := tlv(usm)
	if !ok || tag != 0x04 {
		return "", "", false
	}
	if _, _, usm, ok = tlv(usm); !ok { // boots
		return "", "", false
	}
	if _, _, usm, ok = tlv(usm); !ok { // time
		return "", "", false
	}
	tag, name, _, ok := tlv(usm)
	if !ok || tag != 0x04 {
		return "", "", false
	}
	return string(eng), string(name), true
}
