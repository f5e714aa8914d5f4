// Server-side tables as the API server builds them: the CRD table convertor (printer columns,
// first JSONPath result, date cells as ages, missing values as null cells) and the column
// sets of the built-in printers for the kinds the emulator serves.
#include "apimachinery/table.h"

#include <algorithm>
#include <stdexcept>

#include "apimachinery/schema_internal.h"
#include "core/json_fields.h"

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

constexpr const char* kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr const char* kAgeDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is "
    "represented in RFC3339 form and is in UTC.";

// ---- reading objects leniently: a printer never fails on a malformed object ----

using core::FindAt;
using core::StrAt;

int64_t Int(const json& obj, std::initializer_list<std::string_view> path, int64_t fallback = 0) {
  const json* v = FindAt(obj, path);
  return v && v->is_number() ? v->get<int64_t>() : fallback;
}

const json& List(const json& obj, std::initializer_list<std::string_view> path) {
  static const json kEmpty = json::array();
  const json* v = FindAt(obj, path);
  return v && v->is_array() ? *v : kEmpty;
}

size_t MapSize(const json& obj, std::initializer_list<std::string_view> path) {
  const json* v = FindAt(obj, path);
  return v && v->is_object() ? v->size() : 0;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string AgeOf(const std::string& timestamp, core::TimePoint now) {
  auto t = core::ParseTime(timestamp);
  if (!t) return "<unknown>";
  auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *t);
  if (age.count() < -1) return "<invalid>";
  return core::HumanAge(age);
}

json Age(const json& obj, core::TimePoint now) { return AgeOf(StrAt(obj, {"metadata", "creationTimestamp"}), now); }

// labels.FormatLabels: "a=b,c=d" sorted by key, "<none>" when empty.
std::string FormatLabels(const json* labels) {
  if (!labels || !labels->is_object() || labels->empty()) return "<none>";
  std::vector<std::string> parts;
  for (auto it = labels->begin(); it != labels->end(); ++it)
    parts.push_back(it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  return Join(parts, ",");
}

// metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key.
std::string FormatSelector(const json* selector) {
  if (!selector || !selector->is_object()) return "";
  std::vector<std::pair<std::string, std::string>> reqs;
  if (const json* ml = FindAt(*selector, {"matchLabels"}); ml && ml->is_object())
    for (auto it = ml->begin(); it != ml->end(); ++it)
      reqs.emplace_back(it.key(), it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  for (const auto& e : List(*selector, {"matchExpressions"})) {
    std::string key = StrAt(e, {"key"}), op = StrAt(e, {"operator"});
    std::vector<std::string> values;
    for (const auto& v : List(e, {"values"}))
      if (v.is_string()) values.push_back(v.get<std::string>());
    std::sort(values.begin(), values.end());
    if (op == "In") reqs.emplace_back(key, key + " in (" + Join(values, ",") + ")");
    else if (op == "NotIn") reqs.emplace_back(key, key + " notin (" + Join(values, ",") + ")");
    else if (op == "Exists") reqs.emplace_back(key, key);
    else if (op == "DoesNotExist") reqs.emplace_back(key, "!" + key);
  }
  std::stable_sort(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(r.second);
  return Join(parts, ",");
}

std::string ContainerField(const json& obj, const char* field) {
  std::vector<std::string> parts;
  for (const auto& c : List(obj, {"spec", "template", "spec", "containers"})) parts.push_back(StrAt(c, {field}));
  return Join(parts, ",");
}

std::string Quantity(const json* v) {
  if (!v) return "<unknown>";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number()) return v->dump();
  return "<unknown>";
}

// loadBalancerStatusStringer: IPs or hostnames, shortened for the narrow table.
std::string LoadBalancerAddresses(const json& obj) {
  std::vector<std::string> parts;
  for (const auto& ing : List(obj, {"status", "loadBalancer", "ingress"})) {
    std::string ip = StrAt(ing, {"ip"}), host = StrAt(ing, {"hostname"});
    if (!ip.empty()) parts.push_back(ip);
    else if (!host.empty()) parts.push_back(host);
  }
  std::string out = Join(parts, ",");
  if (out.size() > 16) out = out.substr(0, 13) + "...";
  return out;
}

PrinterColumn Col(std::string name, std::string type, std::string description,
                  std::function<json(const json&, core::TimePoint)> compute, int priority = 0) {
  PrinterColumn c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.description = std::move(description);
  c.priority = priority;
  c.compute = std::move(compute);
  return c;
}

PrinterColumn AgeColumn() { return Col("Age", "string", kAgeDescription, Age); }

std::vector<PrinterColumn> WorkloadWideColumns() {
  return {Col("Containers", "string", "Names of each container in the template.",
              [](const json& o, core::TimePoint) { return json(ContainerField(o, "name")); }, 1),
          Col("Images", "string", "Images referenced by each container in the template.",
              [](const json& o, core::TimePoint) { return json(ContainerField(o, "image")); }, 1),
          Col("Selector", "string", "Label selector for pods.",
              [](const json& o, core::TimePoint) { return json(FormatSelector(FindAt(o, {"spec", "selector"}))); }, 1)};
}

std::vector<PrinterColumn> DeploymentColumns() {
  std::vector<PrinterColumn> cols = {
      Col("Ready", "string", "Number of the pod with ready state",
          [](const json& o, core::TimePoint) {
            return json(std::to_string(Int(o, {"status", "readyReplicas"})) + "/" +
                        std::to_string(Int(o, {"spec", "replicas"})));
          }),
      Col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
          [](const json& o, core::TimePoint) { return json(Int(o, {"status", "updatedReplicas"})); }),
      Col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
          [](const json& o, core::TimePoint) { return json(Int(o, {"status", "availableReplicas"})); }),
      AgeColumn()};
  for (auto& c : WorkloadWideColumns()) cols.push_back(std::move(c));
  return cols;
}

std::vector<PrinterColumn> DaemonSetColumns() {
  auto counter = [](std::string name, const char* field, std::string description) {
    return Col(std::move(name), "integer", std::move(description),
               [field](const json& o, core::TimePoint) { return json(Int(o, {"status", field})); });
  };
  std::vector<PrinterColumn> cols = {
      counter("Desired", "desiredNumberScheduled", "The total number of nodes that should be running the daemon pod."),
      counter("Current", "currentNumberScheduled", "The number of nodes running at least one daemon pod that are supposed to."),
      counter("Ready", "numberReady", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
      counter("Up-to-date", "updatedNumberScheduled", "The total number of nodes that are running updated daemon pod"),
      counter("Available", "numberAvailable", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
      Col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node.",
          [](const json& o, core::TimePoint) {
            return json(FormatLabels(FindAt(o, {"spec", "template", "spec", "nodeSelector"})));
          }),
      AgeColumn()};
  for (auto& c : WorkloadWideColumns()) cols.push_back(std::move(c));
  return cols;
}

std::string ServiceExternalIp(const json& o) {
  std::vector<std::string> external;
  for (const auto& ip : List(o, {"spec", "externalIPs"}))
    if (ip.is_string()) external.push_back(ip.get<std::string>());
  std::string type = StrAt(o, {"spec", "type"}, "ClusterIP");
  if (type == "ClusterIP" || type == "NodePort") return external.empty() ? "<none>" : Join(external, ",");
  if (type == "LoadBalancer") {
    std::string lb = LoadBalancerAddresses(o);
    if (!external.empty()) return lb.empty() ? Join(external, ",") : lb + "," + Join(external, ",");
    return lb.empty() ? "<pending>" : lb;
  }
  if (type == "ExternalName") return StrAt(o, {"spec", "externalName"});
  return "<unknown>";
}

std::string ServicePorts(const json& o) {
  std::vector<std::string> parts;
  for (const auto& p : List(o, {"spec", "ports"})) {
    std::string protocol = StrAt(p, {"protocol"}, "TCP");
    int64_t port = Int(p, {"port"}), node_port = Int(p, {"nodePort"});
    parts.push_back(node_port > 0 ? std::to_string(port) + ":" + std::to_string(node_port) + "/" + protocol
                                  : std::to_string(port) + "/" + protocol);
  }
  return parts.empty() ? "<none>" : Join(parts, ",");
}

std::vector<PrinterColumn> ServiceColumns() {
  return {Col("Type", "string", "type determines how the Service is exposed.",
              [](const json& o, core::TimePoint) { return json(StrAt(o, {"spec", "type"}, "ClusterIP")); }),
          Col("Cluster-IP", "string", "clusterIP is the IP address of the service.",
              [](const json& o, core::TimePoint) {
                std::string ip = StrAt(o, {"spec", "clusterIP"});
                return json(ip.empty() ? "<none>" : ip);
              }),
          Col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
              [](const json& o, core::TimePoint) { return json(ServiceExternalIp(o)); }),
          Col("Port(s)", "string", "The list of ports that are exposed by this service.",
              [](const json& o, core::TimePoint) { return json(ServicePorts(o)); }),
          AgeColumn(),
          Col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.",
              [](const json& o, core::TimePoint) { return json(FormatLabels(FindAt(o, {"spec", "selector"}))); }, 1)};
}

std::string MetricCurrent(const json& statuses, size_t i, const char* source, const char* field) {
  if (!statuses.is_array() || i >= statuses.size()) return "<unknown>";
  const json* v = FindAt(statuses[i], {source, "current", field});
  if (!v) return "<unknown>";
  if (std::string(field) == "averageUtilization") return v->is_number() ? std::to_string(v->get<int64_t>()) + "%" : "<unknown>";
  return Quantity(v);
}

// formatHPAMetrics of the built-in printer: at most two metrics, then "+ N more...".
std::string HpaTargets(const json& o) {
  const json& specs = List(o, {"spec", "metrics"});
  if (specs.empty()) return "<none>";
  const json& statuses = List(o, {"status", "currentMetrics"});
  std::vector<std::string> list;
  for (size_t i = 0; i < specs.size(); ++i) {
    const json& spec = specs[i];
    std::string type = StrAt(spec, {"type"});
    if (type == "Resource" || type == "ContainerResource") {
      const char* src = type == "Resource" ? "resource" : "containerResource";
      std::string name = StrAt(spec, {src, "name"});
      if (const json* avg = FindAt(spec, {src, "target", "averageValue"})) {
        list.push_back(name + ": " + MetricCurrent(statuses, i, src, "averageValue") + "/" + Quantity(avg));
      } else {
        const json* util = FindAt(spec, {src, "target", "averageUtilization"});
        std::string target = util && util->is_number() ? std::to_string(util->get<int64_t>()) + "%" : "<auto>";
        list.push_back(name + ": " + MetricCurrent(statuses, i, src, "averageUtilization") + "/" + target);
      }
    } else if (type == "Pods") {
      list.push_back(MetricCurrent(statuses, i, "pods", "averageValue") + "/" +
                     Quantity(FindAt(spec, {"pods", "target", "averageValue"})));
    } else if (type == "Object" || type == "External") {
      const char* src = type == "Object" ? "object" : "external";
      if (const json* avg = FindAt(spec, {src, "target", "averageValue"}))
        list.push_back(MetricCurrent(statuses, i, src, "averageValue") + "/" + Quantity(avg) + " (avg)");
      else
        list.push_back(MetricCurrent(statuses, i, src, "value") + "/" + Quantity(FindAt(spec, {src, "target", "value"})));
    } else {
      list.push_back("<unknown type>");
    }
  }
  if (list.size() > 2) {
    size_t more = list.size() - 2;
    list.resize(2);
    return Join(list, ", ") + " + " + std::to_string(more) + " more...";
  }
  return Join(list, ", ");
}

std::vector<PrinterColumn> HpaColumns() {
  return {Col("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.",
              [](const json& o, core::TimePoint) {
                return json(StrAt(o, {"spec", "scaleTargetRef", "kind"}) + "/" + StrAt(o, {"spec", "scaleTargetRef", "name"}));
              }),
          Col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count.",
              [](const json& o, core::TimePoint) { return json(HpaTargets(o)); }),
          Col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
              [](const json& o, core::TimePoint) {
                const json* v = FindAt(o, {"spec", "minReplicas"});
                return json(v && v->is_number() ? std::to_string(v->get<int64_t>()) : "<unset>");
              }),
          Col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
              [](const json& o, core::TimePoint) { return json(Int(o, {"spec", "maxReplicas"})); }),
          Col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler.",
              [](const json& o, core::TimePoint) { return json(Int(o, {"status", "currentReplicas"})); }),
          AgeColumn()};
}

std::vector<PrinterColumn> IngressColumns() {
  return {Col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration",
              [](const json& o, core::TimePoint) { return json(StrAt(o, {"spec", "ingressClassName"}, "<none>")); }),
          Col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule",
              [](const json& o, core::TimePoint) {
                std::vector<std::string> hosts;
                for (const auto& r : List(o, {"spec", "rules"})) {
                  std::string h = StrAt(r, {"host"});
                  if (!h.empty()) hosts.push_back(h);
                }
                if (hosts.empty()) return json("*");
                if (hosts.size() > 3)
                  return json(Join({hosts[0], hosts[1], hosts[2]}, ",") + " + " + std::to_string(hosts.size() - 3) + " more...");
                return json(Join(hosts, ","));
              }),
          Col("Address", "string", "Address is a list containing ingress points for the load-balancer",
              [](const json& o, core::TimePoint) { return json(LoadBalancerAddresses(o)); }),
          Col("Ports", "string", "Ports of TLS configurations that open",
              [](const json& o, core::TimePoint) { return json(List(o, {"spec", "tls"}).empty() ? "80" : "80, 443"); }),
          AgeColumn()};
}

std::string EventSource(const json& o) {
  std::string component = StrAt(o, {"source", "component"}), host = StrAt(o, {"source", "host"});
  if (component.empty()) component = StrAt(o, {"reportingComponent"});
  if (host.empty()) host = StrAt(o, {"reportingInstance"});
  return host.empty() ? component : component + ", " + host;
}

std::string EventFirstSeen(const json& o, core::TimePoint now) {
  std::string first = StrAt(o, {"firstTimestamp"});
  return AgeOf(first.empty() ? StrAt(o, {"eventTime"}) : first, now);
}

std::string EventLastSeen(const json& o, core::TimePoint now) {
  std::string first = EventFirstSeen(o, now);
  std::string last_ts = StrAt(o, {"lastTimestamp"});
  std::string last = last_ts.empty() ? first : AgeOf(last_ts, now);
  if (const json* series = FindAt(o, {"series"}); series && series->is_object())
    return AgeOf(StrAt(*series, {"lastObservedTime"}), now) + " (x" + std::to_string(Int(*series, {"count"})) +
           " over " + first + ")";
  int64_t count = Int(o, {"count"});
  if (count > 1) return last + " (x" + std::to_string(count) + " over " + first + ")";
  return last;
}

std::vector<PrinterColumn> EventColumns() {
  std::vector<PrinterColumn> cols = {
      Col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.",
          [](const json& o, core::TimePoint now) { return json(EventLastSeen(o, now)); }),
      Col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future",
          [](const json& o, core::TimePoint) { return json(StrAt(o, {"type"})); }),
      Col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
          [](const json& o, core::TimePoint) { return json(StrAt(o, {"reason"})); }),
      Col("Object", "string", "The object that this event is about.",
          [](const json& o, core::TimePoint) {
            std::string kind = StrAt(o, {"involvedObject", "kind"});
            std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
            std::string name = StrAt(o, {"involvedObject", "name"});
            return json(name.empty() ? kind : kind + "/" + name);
          }),
      Col("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
          [](const json& o, core::TimePoint) { return json(StrAt(o, {"involvedObject", "fieldPath"})); }, 1),
      Col("Source", "string", "The component reporting this event.",
          [](const json& o, core::TimePoint) { return json(EventSource(o)); }, 1),
      Col("Message", "string", "A human-readable description of the status of this operation.",
          [](const json& o, core::TimePoint) {
            std::string m = StrAt(o, {"message"});
            size_t b = m.find_first_not_of(" \t\n\r"), e = m.find_last_not_of(" \t\n\r");
            return json(b == std::string::npos ? "" : m.substr(b, e - b + 1));
          }),
      Col("First Seen", "string", "The time at which the event was first recorded.",
          [](const json& o, core::TimePoint now) { return json(EventFirstSeen(o, now)); }, 1),
      Col("Count", "string", "The number of times this event has occurred.",
          [](const json& o, core::TimePoint) { return json(Int(o, {"count"})); }, 1),
      Col("Name", "string", kNameDescription,
          [](const json& o, core::TimePoint) { return json(StrAt(o, {"metadata", "name"})); }, 1)};
  cols.back().format = "name";
  return cols;
}

// CRD cells (cellForJSONValue): a value of the wrong type for the column is a null cell.
json CellForValue(const std::string& type, const json& value, core::TimePoint now) {
  if (value.is_null()) return nullptr;
  if (type == "integer") {
    if (value.is_number_integer() || value.is_number_unsigned()) return value;
    if (value.is_number_float()) return static_cast<int64_t>(value.get<double>());
  } else if (type == "number") {
    if (value.is_number()) return value.get<double>();
  } else if (type == "boolean") {
    if (value.is_boolean()) return value;
  } else if (type == "string") {
    if (value.is_string()) return value;
    // The string printer writes maps and lists as JSON and scalars as Go prints them.
    if (value.is_object() || value.is_array()) return value.dump();
    if (value.is_number_float()) return schema_internal::GoFloat(value.get<double>());
    return value.dump();
  } else if (type == "date") {
    if (value.is_string()) {
      auto t = core::ParseTime(value.get<std::string>());
      if (!t) return "<invalid>";
      return AgeOf(value.get<std::string>(), now);
    }
  }
  return nullptr;
}

json CellOf(const PrinterColumn& c, const json& object, core::TimePoint now) {
  if (c.compute) return c.compute(object, now);
  std::optional<json> value;
  try {
    value = EvalJsonPath(object, c.json_path);
  } catch (const std::invalid_argument&) {
    return nullptr;  // ColumnsFromCrd refuses bad paths; a hand-built column just prints nothing
  }
  if (!value) return nullptr;
  return CellForValue(c.type, *value, now);
}

json RowObject(const json& object, const std::string& include_object) {
  if (include_object == "Object") return object;
  json partial = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
  const json* meta = FindAt(object, {"metadata"});
  partial["metadata"] = meta && meta->is_object() ? *meta : json::object();
  return partial;
}

PrinterColumn NameColumn() {
  PrinterColumn c;
  c.name = "Name";
  c.type = "string";
  c.format = "name";
  c.description = kNameDescription;
  c.compute = [](const json& o, core::TimePoint) { return json(StrAt(o, {"metadata", "name"})); };
  return c;
}

}  // namespace

std::vector<PrinterColumn> ColumnsFromCrd(const nlohmann::json& additional_printer_columns) {
  std::vector<PrinterColumn> out;
  if (additional_printer_columns.is_null()) return out;
  if (!additional_printer_columns.is_array())
    throw std::invalid_argument("additionalPrinterColumns: must be a list");
  for (size_t i = 0; i < additional_printer_columns.size(); ++i) {
    const json& c = additional_printer_columns[i];
    std::string where = "additionalPrinterColumns[" + std::to_string(i) + "]";
    if (!c.is_object()) throw std::invalid_argument(where + ": must be an object");
    PrinterColumn col;
    col.name = StrAt(c, {"name"});
    col.type = StrAt(c, {"type"});
    col.format = StrAt(c, {"format"});
    col.json_path = StrAt(c, {"jsonPath"});
    col.priority = static_cast<int>(Int(c, {"priority"}));
    if (col.name.empty()) throw std::invalid_argument(where + ".name: Required value");
    if (col.json_path.empty()) throw std::invalid_argument(where + ".jsonPath: Required value");
    static const char* const kTypes[] = {"string", "integer", "number", "boolean", "date"};
    if (std::none_of(std::begin(kTypes), std::end(kTypes), [&](const char* t) { return col.type == t; }))
      throw std::invalid_argument(where + ".type: Unsupported value: \"" + col.type +
                                  "\": supported values: \"boolean\", \"date\", \"integer\", \"number\", \"string\"");
    EvalJsonPath(json::object(), col.json_path);  // throws std::invalid_argument on a malformed path
    col.description = StrAt(c, {"description"});
    if (col.description.empty())
      col.description = "Custom resource definition column (in JSONPath format): " + col.json_path;
    out.push_back(std::move(col));
  }
  return out;
}

std::vector<PrinterColumn> BuiltinColumns(const std::string& group, const std::string& kind) {
  if (group.empty()) {
    if (kind == "Namespace")
      return {Col("Status", "string", "The status of the namespace",
                  [](const json& o, core::TimePoint) { return json(StrAt(o, {"status", "phase"})); }),
              AgeColumn()};
    if (kind == "ConfigMap")
      return {Col("Data", "string", "Data contains the configuration data.",
                  [](const json& o, core::TimePoint) {
                    return json(static_cast<int64_t>(MapSize(o, {"data"}) + MapSize(o, {"binaryData"})));
                  }),
              AgeColumn()};
    if (kind == "Secret")
      return {Col("Type", "string", "The type of the secret",
                  [](const json& o, core::TimePoint) { return json(StrAt(o, {"type"})); }),
              Col("Data", "string", "The number of data entries in the secret",
                  [](const json& o, core::TimePoint) { return json(static_cast<int64_t>(MapSize(o, {"data"}))); }),
              AgeColumn()};
    if (kind == "Service") return ServiceColumns();
    if (kind == "Event") return EventColumns();
  }
  if (group == "apps" && kind == "Deployment") return DeploymentColumns();
  if (group == "apps" && kind == "DaemonSet") return DaemonSetColumns();
  if (group == "autoscaling" && kind == "HorizontalPodAutoscaler") return HpaColumns();
  if (group == "networking.k8s.io" && kind == "Ingress") return IngressColumns();
  if (group == "coordination.k8s.io" && kind == "Lease")
    return {Col("Holder", "string", "The holder of the lease",
                [](const json& o, core::TimePoint) { return json(StrAt(o, {"spec", "holderIdentity"})); }),
            AgeColumn()};
  if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition")
    // The default table convertor: a creation time, not an age.
    return {Col("Created At", "date", kAgeDescription,
                [](const json& o, core::TimePoint) {
                  auto t = core::ParseTime(StrAt(o, {"metadata", "creationTimestamp"}));
                  return t ? json(core::FormatTime(*t)) : json(nullptr);
                })};
  return {AgeColumn()};
}

nlohmann::json MakeTable(const std::vector<nlohmann::json>& objects, const std::vector<PrinterColumn>& columns,
                         const std::string& include_object, core::TimePoint now, const std::string& resource_version,
                         const std::string& continue_token) {
  std::string include = include_object.empty() ? "Metadata" : include_object;
  if (include != "None" && include != "Metadata" && include != "Object")
    throw std::invalid_argument("includeObject: Unsupported value: \"" + include_object +
                                "\": supported values: \"None\", \"Metadata\", \"Object\"");
  std::vector<PrinterColumn> cols = columns;
  if (cols.empty()) {
    PrinterColumn age;
    age.name = "Age";
    age.type = "date";
    age.json_path = ".metadata.creationTimestamp";
    age.description = "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp";
    cols.push_back(std::move(age));
  }
  // Events carry their Name column last (wide only); every other table starts with Name.
  if (std::none_of(cols.begin(), cols.end(), [](const PrinterColumn& c) { return c.format == "name"; }))
    cols.insert(cols.begin(), NameColumn());

  json table = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}};
  table["metadata"] = {{"resourceVersion", resource_version}};
  if (!continue_token.empty()) table["metadata"]["continue"] = continue_token;
  json defs = json::array();
  for (const auto& c : cols)
    defs.push_back({{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", c.description},
                    {"priority", c.priority}});
  table["columnDefinitions"] = std::move(defs);
  json rows = json::array();
  for (const auto& object : objects) {
    json cells = json::array();
    for (const auto& c : cols) cells.push_back(CellOf(c, object, now));
    json row = {{"cells", std::move(cells)}};
    if (include != "None") row["object"] = RowObject(object, include);
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace sluice::apimachinery
