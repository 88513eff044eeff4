package inventory

import (
	"io"

	"gopkg.in/yaml.v3"
)

// WriteYAML writes the inventory in inventory.yml's format, so a generated
// fleet (`fleetwatch simulate --inventory-out`) can be loaded back.
func (inv *Inventory) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return err
	}
	return enc.Close()
}
