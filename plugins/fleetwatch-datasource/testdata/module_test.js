// Loads module.js the way Grafana's SystemJS does (an AMD define with the
// shared modules), with small stand-ins for @grafana/data,
// @grafana/runtime and react, and checks what Grafana relies on. Run by
// TestFrontendModule: node testdata/module_test.js module.js
"use strict";
const assert = require("assert");
const path = require("path");

let deps, factory;
global.define = (d, f) => { deps = d; factory = f; };
require(path.resolve(process.argv[2]));
assert.deepStrictEqual(deps, ["@grafana/data", "@grafana/runtime", "react"], "AMD dependencies");

class DataSourcePlugin {
  constructor(ds) { this.DataSourceClass = ds; }
  setConfigEditor(c) { this.components = Object.assign({}, this.components, { ConfigEditor: c }); return this; }
  setQueryEditor(c) { this.components = Object.assign({}, this.components, { QueryEditor: c }); return this; }
}
class DataSourceWithBackend { constructor(s) { this.instanceSettings = s; } }
const replaced = [];
const runtime = {
  DataSourceWithBackend,
  getTemplateSrv: () => ({
    replace: (v, scoped, format) => {
      replaced.push(format);
      return v.replace("$site", "dc1,dc2").replace("${rack}", ".*");
    },
  }),
};
const createElement = (type, props, ...children) => ({ type, props: props || {}, children: children.flat() });
const mod = factory({ DataSourcePlugin }, runtime, { createElement });

const plugin = mod.plugin;
assert.ok(plugin instanceof DataSourcePlugin, "exports plugin");
assert.ok(plugin.components.ConfigEditor && plugin.components.QueryEditor, "config and query editors");

const ds = new plugin.DataSourceClass({ uid: "fw" });
assert.ok(ds instanceof DataSourceWithBackend, "backend datasource");
assert.deepStrictEqual(ds.annotations, {}, "annotations enabled");
assert.deepStrictEqual(ds.getDefaultQuery(), { queryType: "incidents", state: "open" });
const q = ds.applyTemplateVariables({ refId: "A", queryType: "incidents", site: "$site", rack: "${rack}", limit: 5 }, {});
assert.strictEqual(q.site, "dc1,dc2", "multi-value variable as csv");
assert.strictEqual(q.rack, ".*", "All passes the all value");
assert.strictEqual(q.limit, 5, "numbers untouched");
assert.ok(replaced.every((f) => f === "csv"), "csv format");

function find(node, pred, out = []) {
  if (!node || typeof node !== "object") return out;
  if (pred(node)) out.push(node);
  (node.children || []).forEach((c) => find(c, pred, out));
  return out;
}
// Config editor: URL and token inputs change the options Grafana saves.
let saved;
const options = { url: "", jsonData: {}, secureJsonFields: {}, secureJsonData: {} };
const cfg = plugin.components.ConfigEditor({ options, onOptionsChange: (o) => { saved = o; } });
const url = find(cfg, (n) => n.props["aria-label"] === "fleetwatch URL")[0];
url.props.onChange({ target: { value: "http://127.0.0.1:9470" } });
assert.strictEqual(saved.url, "http://127.0.0.1:9470");
const tok = find(cfg, (n) => n.props["aria-label"] === "token")[0];
tok.props.onChange({ target: { value: "s3cret" } });
assert.strictEqual(saved.secureJsonData.token, "s3cret", "token goes to secureJsonData");
assert.ok(!saved.jsonData.token, "token never in jsonData");
// Query editor: the type select changes the query and runs it.
let changed, ran = 0;
const qe = plugin.components.QueryEditor({ query: { refId: "A", queryType: "incidents" }, onChange: (x) => { changed = x; }, onRunQuery: () => { ran++; } });
const sel = find(qe, (n) => n.type === "select")[0];
assert.strictEqual(find(sel, (n) => n.type === "option").length, 3, "three query types");
sel.props.onChange({ target: { value: "timeline" } });
assert.strictEqual(changed.queryType, "timeline");
assert.strictEqual(ran, 1);
const tl = plugin.components.QueryEditor({ query: { refId: "A", queryType: "timeline" }, onChange: () => {}, onRunQuery: () => {} });
assert.strictEqual(find(tl, (n) => n.props["aria-label"] === "incidentId").length, 1, "timeline asks for an incident id");
console.log("module.js ok");
