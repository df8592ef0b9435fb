package mudlearn

import (
	"encoding/json"
	"fmt"
	"time"
)

// URLBase is where proposed profiles say they come from: a name that can
// never be fetched (.invalid, RFC 6761), so nobody mistakes a profile for
// a maker's file, and all of one router's profiles name one authority.
const URLBase = "https://learned.trustjoin.invalid/"

// URL is the MUD URL of a device's learned profile.
func URL(id string) string { return URLBase + sanitise(id) + ".json" }

// ACL and ACE, as RFC 8519/8520 write them; maps keep the JSON short.
type (
	obj = map[string]any
)

// Propose returns the profile as a MUD file: from-device entries for what
// the device opened, to-device entries for what others opened to it,
// each for IPv4 and IPv6 where the other side is a name or the local
// network. Everything else is dropped, as for any MUD file (local DNS,
// DHCP and NTP stay allowed by the firewall, as RFC 8520 asks).
func Propose(p Profile, at time.Time) ([]byte, error) {
	acls := map[string][]obj{}
	order := []string{"from-ipv4", "from-ipv6", "to-ipv4", "to-ipv6"}
	for i, d := range p.Destinations {
		dir := "from"
		if d.Inbound {
			dir = "to"
		}
		for _, v := range []int{4, 6} {
			ace, ok := entry(d, v)
			if !ok {
				continue
			}
			ace["name"] = fmt.Sprintf("%s%d-%d", dir, v, i)
			name := fmt.Sprintf("%s-ipv%d", dir, v)
			acls[name] = append(acls[name], ace)
		}
	}
	var lists []obj
	var from, to []obj
	for _, n := range order {
		aces := acls[n]
		typ := "ipv4-acl-type"
		if n[len(n)-1] == '6' {
			typ = "ipv6-acl-type"
		}
		lists = append(lists, obj{"name": n, "type": typ, "aces": obj{"ace": nonNil(aces)}})
		if n[:2] == "fr" {
			from = append(from, obj{"name": n})
		} else {
			to = append(to, obj{"name": n})
		}
	}
	info := fmt.Sprintf("Learned by trustjoin from the traffic of %s, %s to %s", nameOr(p), p.Started.UTC().Format("2006-01-02 15:04"), p.Until.UTC().Format("2006-01-02 15:04"))
	file := obj{
		"ietf-mud:mud": obj{
			"mud-version":        1,
			"mud-url":            URL(p.Device),
			"last-update":        at.UTC().Format(time.RFC3339),
			"cache-validity":     168,
			"is-supported":       true,
			"systeminfo":         info,
			"from-device-policy": obj{"access-lists": obj{"access-list": from}},
			"to-device-policy":   obj{"access-lists": obj{"access-list": to}},
		},
		"ietf-access-control-list:acls": obj{"acl": lists},
	}
	return json.MarshalIndent(file, "", "  ")
}

func nameOr(p Profile) string {
	if p.Name != "" {
		return fmt.Sprintf("%q", p.Name)
	}
	return p.Device
}

func nonNil(s []obj) []obj {
	if s == nil {
		return []obj{}
	}
	return s
}

// entry is the access-control entry allowing d over IP version v, or
// false when d cannot be reached over v (an address of the other
// version).
func entry(d Destination, v int) (obj, bool) {
	ip := obj{}
	matches := obj{}
	ipKey := fmt.Sprintf("ipv%d", v)
	switch {
	case d.Name != "":
		ip["ietf-acldns:dst-dnsname"] = d.Name
	case d.Local():
		if d.Addr.Is4() != (v == 4) {
			return nil, false
		}
		matches["ietf-mud:mud"] = obj{"local-networks": []any{nil}}
	default:
		if !d.Addr.IsValid() || d.Addr.Is4() != (v == 4) {
			return nil, false
		}
		key := "destination-ipv4-network"
		if d.Inbound {
			key = "source-ipv4-network"
		}
		if v == 6 {
			key = key[:len(key)-len("ipv4-network")] + "ipv6-network"
		}
		ip[key] = fmt.Sprintf("%s/%d", d.Addr, d.Addr.BitLen())
	}
	proto := int(d.Proto)
	switch {
	case d.Proto == 1 && v == 6, d.Proto == 58 && v == 4:
		return nil, false
	}
	ip["protocol"] = proto
	matches[ipKey] = ip
	initiated := "from-device"
	if d.Inbound {
		initiated = "to-device"
	}
	switch d.Proto {
	case 6:
		matches["tcp"] = obj{"ietf-mud:direction-initiated": initiated, "destination-port": obj{"operator": "eq", "port": d.Port}}
	case 17:
		matches["udp"] = obj{"destination-port": obj{"operator": "eq", "port": d.Port}}
	case 1, 58:
		matches["icmp"] = obj{"type": d.Port}
	}
	return obj{"matches": matches, "actions": obj{"forwarding": "accept"}}, true
}
