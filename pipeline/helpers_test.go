package pipeline

import "github.com/prometheus/prometheus/model/metadata"

func mdGauge(help string) metadata.Metadata   { return metadata.Metadata{Type: "gauge", Help: help} }
func mdCounter(help string) metadata.Metadata { return metadata.Metadata{Type: "counter", Help: help} }
