package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SchemaVersion is the Grafana dashboard schema version the JSON is
// written in (Grafana 12; the grafana-foundation-sdk's current one).
const SchemaVersion = 42

// PrometheusType and PluginType are the datasource types panels use: Grafana's
// built-in Prometheus datasource (pointed at fleetwatch) and fleetwatch's
// own backend datasource plugin (plugins/fleetwatch-datasource).
const (
	PrometheusType = "prometheus"
	PluginType     = "fleetwatch-incidents-datasource"
)

// Variable names of the datasource variables every dashboard has.
const (
	DatasourceVar = "datasource"
	IncidentsVar  = "incidents"
)

// Dashboard is one Grafana dashboard as fleetwatch defines it.
type Dashboard struct {
	UID         string
	Title       string
	Description string
	Tags        []string
	// Vars are the query variables after the datasource variable, in
	// order; a later one may refer to an earlier one.
	Vars []Var
	// Incidents adds the plugin datasource variable (panels and
	// annotations from fleetwatch's incidents API).
	Incidents bool
	// Annotations are incident timelines drawn on every panel (needs
	// Incidents).
	Annotations []PluginQuery
	Panels      []Panel
}

// Var is a query variable whose values are label values.
type Var struct {
	Name, Label string
	// Query is Grafana's Prometheus variable query:
	// label_values(<selector>, <label>) or label_values(<label>).
	Query string
	// Single forbids "All" and several values (e.g. one host).
	Single bool
}

// Panel is one visualisation.
type Panel struct {
	Title       string
	Description string
	// Type is a Grafana panel type: timeseries, stat, table,
	// state-timeline, bargauge.
	Type string
	Unit string
	// W and H are the grid size (24 columns wide); zero means 12×8.
	W, H int
	// Min and Max bound the axis or gauge (nil: automatic).
	Min, Max *float64
	// Thresholds are the step colours: green below the first value.
	Thresholds []Step
	// Mappings name values (health 0/1/2, link 1/2).
	Mappings []ValueMap
	Queries  []Query
	// Plugin queries go to fleetwatch's datasource plugin instead.
	Plugin []PluginQuery
	// Stacked stacks time series.
	Stacked bool
}

// Step is one threshold step.
type Step struct {
	Value float64
	Color string
}

// ValueMap names one value.
type ValueMap struct {
	Value string
	Text  string
	Color string
}

// Query is one PromQL query of a panel.
type Query struct {
	Expr   string
	Legend string
	// Instant asks for an instant query (stat, table); otherwise a range
	// query.
	Instant bool
	// Table returns the series as a table (format "table").
	Table bool
}

// PluginQuery is a query to fleetwatch's datasource plugin.
type PluginQuery struct {
	QueryType string `json:"queryType"` // incidents, timeline, metrics
	State     string `json:"state,omitempty"`
	Severity  string `json:"severity,omitempty"`
	Site      string `json:"site,omitempty"`
	Rack      string `json:"rack,omitempty"`
	Incident  string `json:"incidentId,omitempty"`
	Limit     int    `json:"limit,omitempty"`
}

// Render returns the dashboard as Grafana's JSON model, indented, ending in
// a newline. It fails on a definition Grafana would load wrongly (unknown
// variable names, empty queries, a panel with no query).
func Render(d Dashboard) ([]byte, error) {
	if d.UID == "" || len(d.UID) > 40 {
		return nil, fmt.Errorf("dashboard %q: uid %q must have 1 to 40 characters", d.Title, d.UID)
	}
	if len(d.Annotations) > 0 && !d.Incidents {
		return nil, fmt.Errorf("dashboard %q: annotations need the incidents datasource", d.UID)
	}
	m := jsonDashboard{
		UID:           d.UID,
		Title:         d.Title,
		Description:   d.Description,
		Tags:          append([]string{"fleetwatch"}, d.Tags...),
		Timezone:      "browser",
		Editable:      true,
		GraphTooltip:  1,
		SchemaVersion: SchemaVersion,
		Version:       1,
		Refresh:       "30s",
		Time:          jsonTime{From: "now-1h", To: "now"},
		Links: []jsonLink{{
			Title: "fleetwatch", Type: "dashboards", Tags: []string{"fleetwatch"}, AsDropdown: true,
			Icon: "external link", Tooltip: "fleetwatch's dashboards", IncludeVars: true, KeepTime: true,
		}},
	}
	m.Annotations.List = append(m.Annotations.List, jsonAnnotation{
		BuiltIn:    1,
		Datasource: dsRef{Type: "grafana", UID: "-- Grafana --"},
		Enable:     true, Hide: true, IconColor: "rgba(0, 211, 255, 1)",
		Name: "Annotations & Alerts", Type: "dashboard",
	})
	for _, a := range d.Annotations {
		a := a
		m.Annotations.List = append(m.Annotations.List, jsonAnnotation{
			Datasource: dsRef{Type: PluginType, UID: "${" + IncidentsVar + "}"},
			Enable:     true, IconColor: "red", Name: "Incident timeline",
			Target: &pluginTarget{RefID: "Anno", PluginQuery: a},
		})
	}
	known := map[string]bool{DatasourceVar: true}
	m.Templating.List = append(m.Templating.List, jsonVar{
		Type: "datasource", Name: DatasourceVar, Label: "Data source", Query: PrometheusType,
		Current: &jsonCurrent{Text: "fleetwatch", Value: "fleetwatch"}, Refresh: 1, Regex: "",
		Options: []jsonCurrent{},
	})
	if d.Incidents {
		known[IncidentsVar] = true
		m.Templating.List = append(m.Templating.List, jsonVar{
			Type: "datasource", Name: IncidentsVar, Label: "Incidents", Query: PluginType,
			Current: &jsonCurrent{Text: "fleetwatch incidents", Value: "fleetwatch-incidents"}, Refresh: 1,
			Options: []jsonCurrent{},
		})
	}
	for _, v := range d.Vars {
		for _, ref := range VarRefs(v.Query) {
			if !known[ref] {
				return nil, fmt.Errorf("dashboard %q: variable %q: query refers to $%s, not defined before it", d.UID, v.Name, ref)
			}
		}
		known[v.Name] = true
		jv := jsonVar{
			Type: "query", Name: v.Name, Label: v.Label,
			Datasource: &dsRef{Type: PrometheusType, UID: "${" + DatasourceVar + "}"},
			Query:      jsonVarQuery{Query: v.Query, RefID: "PrometheusVariableQueryEditor-VariableQuery", QryType: 1},
			Definition: v.Query, Refresh: 2, Sort: 1, Regex: "", Options: []jsonCurrent{},
		}
		if v.Single {
			jv.Current = &jsonCurrent{}
		} else {
			t := true
			jv.Multi, jv.IncludeAll = &t, &t
			jv.AllValue = ".*"
			jv.Current = &jsonCurrent{Text: []string{"All"}, Value: []string{"$__all"}}
		}
		m.Templating.List = append(m.Templating.List, jv)
	}
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		if len(p.Queries) == 0 && len(p.Plugin) == 0 {
			return nil, fmt.Errorf("dashboard %q: panel %q has no query", d.UID, p.Title)
		}
		if len(p.Plugin) > 0 && !d.Incidents {
			return nil, fmt.Errorf("dashboard %q: panel %q: plugin queries need the incidents datasource", d.UID, p.Title)
		}
		w, h := p.W, p.H
		if w == 0 {
			w = 12
		}
		if h == 0 {
			h = 8
		}
		if x+w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		jp, err := renderPanel(p, i+1, known)
		if err != nil {
			return nil, fmt.Errorf("dashboard %q: panel %q: %w", d.UID, p.Title, err)
		}
		jp.GridPos = gridPos{H: h, W: w, X: x, Y: y}
		x += w
		rowH = max(rowH, h)
		m.Panels = append(m.Panels, jp)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func renderPanel(p Panel, id int, known map[string]bool) (jsonPanel, error) {
	jp := jsonPanel{ID: id, Type: p.Type, Title: p.Title, Description: p.Description}
	switch {
	case len(p.Plugin) > 0:
		jp.Datasource = dsRef{Type: PluginType, UID: "${" + IncidentsVar + "}"}
		for i, q := range p.Plugin {
			jp.Targets = append(jp.Targets, pluginTarget{RefID: refID(i), Datasource: &jp.Datasource, PluginQuery: q})
		}
	default:
		jp.Datasource = dsRef{Type: PrometheusType, UID: "${" + DatasourceVar + "}"}
		for i, q := range p.Queries {
			if q.Expr == "" {
				return jp, fmt.Errorf("query %s is empty", refID(i))
			}
			for _, ref := range VarRefs(q.Expr) {
				if !known[ref] {
					return jp, fmt.Errorf("query %s refers to $%s, which the dashboard does not define", refID(i), ref)
				}
			}
			t := promTarget{
				RefID: refID(i), Datasource: &jp.Datasource, EditorMode: "code", Expr: q.Expr,
				LegendFormat: q.Legend, Range: !q.Instant, Instant: q.Instant, Format: "time_series",
			}
			if q.Table {
				t.Format = "table"
			}
			jp.Targets = append(jp.Targets, t)
		}
	}
	def := fieldDefaults{Unit: p.Unit, Min: p.Min, Max: p.Max, Mappings: []jsonMapping{}}
	def.Color = map[string]string{"mode": "palette-classic"}
	steps := []jsonStep{{Color: "green", Value: nil}}
	for _, s := range p.Thresholds {
		v := s.Value
		steps = append(steps, jsonStep{Color: s.Color, Value: &v})
	}
	def.Thresholds = &jsonThresholds{Mode: "absolute", Steps: steps}
	if len(p.Mappings) > 0 {
		opts := map[string]jsonMapOpt{}
		for i, mp := range p.Mappings {
			opts[mp.Value] = jsonMapOpt{Text: mp.Text, Color: mp.Color, Index: i}
		}
		def.Mappings = []jsonMapping{{Type: "value", Options: opts}}
	}
	switch p.Type {
	case "timeseries":
		stack := "none"
		if p.Stacked {
			stack = "normal"
		}
		def.Custom = map[string]any{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
			"spanNulls": false, "stacking": map[string]any{"mode": stack, "group": "A"}}
		jp.Options = map[string]any{
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []string{}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		}
	case "stat":
		if len(p.Thresholds) > 0 || len(p.Mappings) > 0 {
			def.Color = map[string]string{"mode": "thresholds"}
		}
		jp.Options = map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
			"textMode": "auto", "wideLayout": true, "showPercentChange": false, "percentChangeColorMode": "standard",
		}
	case "bargauge":
		def.Color = map[string]string{"mode": "thresholds"}
		jp.Options = map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"displayMode":   "gradient", "orientation": "horizontal", "showUnfilled": true,
			"valueMode": "color", "namePlacement": "auto",
			"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": false, "calcs": []string{}}, "sizing": "auto", "minVizHeight": 16, "minVizWidth": 8, "maxVizHeight": 300,
		}
	case "state-timeline":
		def.Color = map[string]string{"mode": "thresholds"}
		def.Custom = map[string]any{"fillOpacity": 80, "lineWidth": 0}
		jp.Options = map[string]any{
			"mergeValues": true, "showValue": "auto", "alignValue": "left", "rowHeight": 0.9,
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []string{}},
			"tooltip": map[string]any{"mode": "single", "sort": "none"},
		}
	case "table":
		def.Custom = map[string]any{"align": "auto", "cellOptions": map[string]any{"type": "auto"}, "inspect": false}
		jp.Options = map[string]any{"showHeader": true, "frameIndex": 0, "cellHeight": "sm", "footer": map[string]any{"show": false, "reducer": []string{"sum"}, "countRows": false, "fields": ""}}
		if len(p.Queries) > 0 {
			// Series as rows: drop the time column and the value column's
			// name repeated per series.
			jp.Transformations = []jsonTransform{{ID: "organize", Options: map[string]any{
				"excludeByName": map[string]bool{"Time": true, "__name__": true}, "indexByName": map[string]int{}, "renameByName": map[string]string{},
			}}}
			if len(p.Queries) > 1 {
				jp.Transformations = append([]jsonTransform{{ID: "merge", Options: map[string]any{}}}, jp.Transformations...)
			}
		}
	default:
		return jp, fmt.Errorf("unknown panel type %q", p.Type)
	}
	jp.FieldConfig = jsonFieldConfig{Defaults: def, Overrides: []any{}}
	return jp, nil
}

func refID(i int) string { return string(rune('A' + i)) }

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type jsonDashboard struct {
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Description   string   `json:"description,omitempty"`
	Tags          []string `json:"tags"`
	Timezone      string   `json:"timezone"`
	Editable      bool     `json:"editable"`
	GraphTooltip  int      `json:"graphTooltip"`
	SchemaVersion int      `json:"schemaVersion"`
	Version       int      `json:"version"`
	Refresh       string   `json:"refresh"`
	Time          jsonTime `json:"time"`
	Annotations   struct {
		List []jsonAnnotation `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []jsonVar `json:"list"`
	} `json:"templating"`
	Links  []jsonLink  `json:"links"`
	Panels []jsonPanel `json:"panels"`
}

type jsonTime struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type jsonLink struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	Icon        string   `json:"icon"`
	Tooltip     string   `json:"tooltip"`
	URL         string   `json:"url"`
	TargetBlank bool     `json:"targetBlank"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
}

type jsonAnnotation struct {
	BuiltIn    int           `json:"builtIn,omitempty"`
	Datasource dsRef         `json:"datasource"`
	Enable     bool          `json:"enable"`
	Hide       bool          `json:"hide,omitempty"`
	IconColor  string        `json:"iconColor"`
	Name       string        `json:"name"`
	Type       string        `json:"type,omitempty"`
	Target     *pluginTarget `json:"target,omitempty"`
}

type jsonVar struct {
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Label      string        `json:"label,omitempty"`
	Datasource *dsRef        `json:"datasource,omitempty"`
	Query      any           `json:"query"`
	Definition string        `json:"definition,omitempty"`
	Current    *jsonCurrent  `json:"current,omitempty"`
	Multi      *bool         `json:"multi,omitempty"`
	IncludeAll *bool         `json:"includeAll,omitempty"`
	AllValue   string        `json:"allValue,omitempty"`
	Refresh    int           `json:"refresh"`
	Sort       int           `json:"sort,omitempty"`
	Regex      string        `json:"regex"`
	Options    []jsonCurrent `json:"options"`
}

type jsonVarQuery struct {
	Query   string `json:"query"`
	RefID   string `json:"refId"`
	QryType int    `json:"qryType"`
}

type jsonCurrent struct {
	Text  any `json:"text,omitempty"`
	Value any `json:"value,omitempty"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type jsonPanel struct {
	ID              int             `json:"id"`
	Type            string          `json:"type"`
	Title           string          `json:"title"`
	Description     string          `json:"description,omitempty"`
	GridPos         gridPos         `json:"gridPos"`
	Datasource      dsRef           `json:"datasource"`
	Targets         []any           `json:"targets"`
	FieldConfig     jsonFieldConfig `json:"fieldConfig"`
	Options         map[string]any  `json:"options"`
	Transformations []jsonTransform `json:"transformations,omitempty"`
}

type promTarget struct {
	RefID        string `json:"refId"`
	Datasource   *dsRef `json:"datasource"`
	EditorMode   string `json:"editorMode"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
	Range        bool   `json:"range"`
	Instant      bool   `json:"instant"`
	Format       string `json:"format"`
}

type pluginTarget struct {
	RefID      string `json:"refId"`
	Datasource *dsRef `json:"datasource,omitempty"`
	PluginQuery
}

type jsonFieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []any         `json:"overrides"`
}

type fieldDefaults struct {
	Unit       string            `json:"unit,omitempty"`
	Min        *float64          `json:"min,omitempty"`
	Max        *float64          `json:"max,omitempty"`
	Color      map[string]string `json:"color"`
	Custom     map[string]any    `json:"custom,omitempty"`
	Mappings   []jsonMapping     `json:"mappings"`
	Thresholds *jsonThresholds   `json:"thresholds"`
}

type jsonMapping struct {
	Type    string                `json:"type"`
	Options map[string]jsonMapOpt `json:"options"`
}

type jsonMapOpt struct {
	Text  string `json:"text"`
	Color string `json:"color,omitempty"`
	Index int    `json:"index"`
}

type jsonThresholds struct {
	Mode  string     `json:"mode"`
	Steps []jsonStep `json:"steps"`
}

type jsonStep struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

type jsonTransform struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}
