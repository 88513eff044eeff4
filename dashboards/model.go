package dashboards

import (
	"encoding/json"
	"fmt"
)

// Model is the part of a Grafana dashboard JSON that running its queries
// needs: variables, panels and their targets.
type Model struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []ModelVar `json:"list"`
	} `json:"templating"`
	Panels []ModelPanel `json:"panels"`
}

// ModelVar is one templating variable.
type ModelVar struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Datasource dsRef  `json:"datasource"`
	Definition string `json:"definition"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Query      json.RawMessage
}

// ModelPanel is one panel.
type ModelPanel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	GridPos    gridPos `json:"gridPos"`
	Datasource dsRef   `json:"datasource"`
	Targets    []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
		Range   bool   `json:"range"`
	} `json:"targets"`
}

// VarQuery returns the variable's query text: the string form or the
// "query" field of the object form.
func (v ModelVar) VarQuery() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil && o.Query != "" {
		return o.Query
	}
	return v.Definition
}

// Decode reads a dashboard JSON file's model.
func Decode(raw []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	for i := range m.Templating.List {
		v := &m.Templating.List[i]
		if v.Name == "" {
			return nil, fmt.Errorf("dashboard %q: variable %d has no name", m.UID, i)
		}
	}
	return &m, nil
}
