// Package inventory is the fleet model: servers with their BMCs, switches,
// and where each one sits (site, row, rack, switch port), with the lifecycle
// state of every server. It loads inventory.yml, checks it, and turns its
// entries into collection targets whose topology becomes labels.
//
// inventory is the ground floor: it imports no other fleetwatch package.
package inventory
