// Package dnsmasq reads what OpenWrt's DHCP server, dnsmasq, leaves on the
// router: its lease file. The firewall learns devices' IPv4 addresses from
// it and the inventory finds devices nobody onboarded; both read it here,
// the same way.
package dnsmasq
