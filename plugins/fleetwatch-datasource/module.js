/*
 * fleetwatch incidents: the frontend module Grafana loads for the backend
 * datasource (plugin.json "id": fleetwatch-incidents-datasource).
 *
 * Hand-written AMD module, no build step: Grafana 10.4 to 12.x load a
 * plugin's module.js with SystemJS, which accepts AMD and provides
 * @grafana/data, @grafana/runtime and react as shared modules. Queries go
 * to the Go backend (gpx_fleetwatch) through DataSourceWithBackend.
 */
define(["@grafana/data", "@grafana/runtime", "react"], function (data, runtime, React) {
  "use strict";

  var h = React.createElement;
  var QUERY_TYPES = [
    { value: "incidents", label: "Incidents (table)" },
    { value: "timeline", label: "Timeline (table, annotations)" },
    { value: "metrics", label: "Incident metrics (time series)" }
  ];
  // Query fields that may hold dashboard variables ($site, ${rack}, …).
  var TEMPLATED = ["state", "severity", "site", "rack", "receiver", "incidentId"];

  class FleetwatchDataSource extends runtime.DataSourceWithBackend {
    constructor(instanceSettings) {
      super(instanceSettings);
      // Annotations use the query editor below (timeline queries).
      this.annotations = {};
    }

    // Variables are sent comma-separated ("dc1,dc2"); "All" sends the
    // variable's all value (".*"), which the backend treats as no filter.
    applyTemplateVariables(query, scopedVars) {
      var srv = runtime.getTemplateSrv();
      var out = Object.assign({}, query);
      TEMPLATED.forEach(function (k) {
        if (typeof out[k] === "string" && out[k] !== "") {
          out[k] = srv.replace(out[k], scopedVars, "csv");
        }
      });
      return out;
    }

    getDefaultQuery() {
      return { queryType: "incidents", state: "open" };
    }

    filterQuery(query) {
      return !query.hide;
    }
  }

  function field(label, input, help) {
    return h("div", { className: "gf-form", style: { marginBottom: 4 } },
      h("label", { className: "gf-form-label width-10", title: help || "" }, label),
      input);
  }

  function ConfigEditor(props) {
    var options = props.options;
    var jsonData = options.jsonData || {};
    var secureSet = options.secureJsonFields && options.secureJsonFields.token;
    function set(patch) {
      props.onOptionsChange(Object.assign({}, options, patch));
    }
    return h("div", { className: "gf-form-group" },
      field("URL", h("input", {
        className: "gf-form-input width-20", placeholder: "http://127.0.0.1:9470",
        value: options.url || "", "aria-label": "fleetwatch URL",
        onChange: function (e) { set({ url: e.target.value }); }
      }), "fleetwatch's address (server.listen_address)"),
      field("Timeout (s)", h("input", {
        className: "gf-form-input width-8", type: "number", min: 0, max: 600,
        value: jsonData.timeoutSeconds || "", placeholder: "30", "aria-label": "timeout",
        onChange: function (e) {
          set({ jsonData: Object.assign({}, jsonData, { timeoutSeconds: parseInt(e.target.value, 10) || 0 }) });
        }
      })),
      field("Token", secureSet
        ? h("span", null,
            h("input", { className: "gf-form-input width-16", disabled: true, value: "configured" }),
            h("button", {
              className: "btn btn-secondary", type: "button", "aria-label": "reset token",
              onClick: function () {
                set({
                  secureJsonFields: Object.assign({}, options.secureJsonFields, { token: false }),
                  secureJsonData: Object.assign({}, options.secureJsonData, { token: "" })
                });
              }
            }, "Reset"))
        : h("input", {
            className: "gf-form-input width-20", type: "password", "aria-label": "token",
            placeholder: "a read token of alerting.tokens_file",
            value: (options.secureJsonData && options.secureJsonData.token) || "",
            onChange: function (e) {
              set({ secureJsonData: Object.assign({}, options.secureJsonData, { token: e.target.value }) });
            }
          }), "Bearer token with read scope (docs/api/incidents.md)"));
  }

  function QueryEditor(props) {
    var q = props.query;
    function change(patch, run) {
      props.onChange(Object.assign({}, q, patch));
      if (run && props.onRunQuery) {
        props.onRunQuery();
      }
    }
    function text(key, label, placeholder) {
      return field(label, h("input", {
        className: "gf-form-input width-16", value: q[key] || "", placeholder: placeholder, "aria-label": key,
        onChange: function (e) { var p = {}; p[key] = e.target.value; change(p, false); },
        onBlur: function () { if (props.onRunQuery) { props.onRunQuery(); } }
      }));
    }
    return h("div", { className: "gf-form-group" },
      field("Query", h("select", {
        className: "gf-form-input width-16", value: q.queryType || "incidents", "aria-label": "queryType",
        onChange: function (e) { change({ queryType: e.target.value }, true); }
      }, QUERY_TYPES.map(function (t) { return h("option", { key: t.value, value: t.value }, t.label); }))),
      text("state", "State", "open, triggered, acknowledged, resolved"),
      text("severity", "Severity", "critical, warning, … or $severity"),
      text("site", "Site", "dc1 or $site"),
      text("rack", "Rack", "r01 or $rack"),
      text("receiver", "Receiver", "any"),
      (q.queryType === "timeline") ? text("incidentId", "Incident", "one incident's id (else every incident in range)") : null,
      field("Limit", h("input", {
        className: "gf-form-input width-8", type: "number", min: 0, max: 10000, value: q.limit || "", "aria-label": "limit",
        placeholder: "100", onChange: function (e) { change({ limit: parseInt(e.target.value, 10) || 0 }, false); },
        onBlur: function () { if (props.onRunQuery) { props.onRunQuery(); } }
      })));
  }

  var plugin = new data.DataSourcePlugin(FleetwatchDataSource)
    .setConfigEditor(ConfigEditor)
    .setQueryEditor(QueryEditor);

  return { plugin: plugin };
});
