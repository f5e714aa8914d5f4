#include "tests/faults/harness/invariants.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/clock.h"

namespace sluice::testing::faults {
namespace {

const json kNull;

const json& At(const json& obj, const char* key) { return obj.is_object() && obj.contains(key) ? obj[key] : kNull; }

std::string Str(const json& obj, const char* key) {
  const json& v = At(obj, key);
  return v.is_string() ? v.get<std::string>() : "";
}

int64_t Int(const json& obj, const char* key, int64_t fallback) {
  const json& v = At(obj, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

std::string NameOf(const json& obj) { return Str(At(obj, "metadata"), "name"); }
std::string NamespaceOf(const json& obj) { return Str(At(obj, "metadata"), "namespace"); }
std::string Qualified(const std::string& ns, const std::string& name) { return ns + "/" + name; }

bool Analysing(const std::string& phase) {
  // The phases in which a revision is under analysis or being promoted: the only ones in
  // which the canary pods may get traffic (b).
  return phase == "Progressing" || phase == "WaitingPromotion" || phase == "Promoting" || phase == "Finalising";
}

bool Stepping(const std::string& phase) {
  // The phases in which weights only grow (c).
  return phase == "Progressing" || phase == "WaitingPromotion";
}

// Whether every label of the selector is on the pod template.
bool Selects(const json& selector, const json& labels) {
  if (!selector.is_object() || selector.empty() || !labels.is_object()) return false;
  for (const auto& [k, v] : selector.items())
    if (!labels.contains(k) || labels[k] != v) return false;
  return true;
}

const json& TemplateLabels(const json& deployment) {
  return At(At(At(At(deployment, "spec"), "template"), "metadata"), "labels");
}

// Ready pods exist: replicas asked for and some of them ready. A Deployment scaled to 0 has
// no ready pods even while its status still counts the old ones: the pods are terminating,
// and endpoints drop terminating pods at once (the emulator's simulator updates
// readyReplicas only after its ready delay).
bool HasReadyPods(const json& d) {
  return Int(At(d, "spec"), "replicas", 1) > 0 && Int(At(d, "status"), "readyReplicas", 0) > 0;
}

std::string DescribeDeployment(const json& d) {
  return "Deployment " + NameOf(d) + " (replicas " + std::to_string(Int(At(d, "spec"), "replicas", 1)) +
         ", readyReplicas " + std::to_string(Int(At(d, "status"), "readyReplicas", 0)) + ")";
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

std::string ImageOf(const json& d) {
  const json& containers = At(At(At(At(d, "spec"), "template"), "spec"), "containers");
  if (!containers.is_array() || containers.empty()) return "";
  return Str(containers[0], "image");
}

}  // namespace

std::string Violation::Describe() const {
  std::string when = Seconds(start);
  if (state) {
    if (end) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.0f ms", (*end - start) * 1000);
      when += " to " + Seconds(*end) + " (" + ms + ")";
    } else {
      when += " to the end of the run";
    }
  }
  std::string s = "(" + std::string(1, invariant) + ") " + when + " " + app;
  if (rv) s += " [rv " + std::to_string(rv) + "]";
  return s + ": " + detail;
}

std::string Digest(const Change& c) {
  const json& o = c.object;
  std::string s =
      Seconds(c.at) + " rv " + std::to_string(c.rv) + " " + c.type + " " + Str(o, "kind") + " " + NameOf(o) + ":";
  if (c.key == kCanaries) {
    const json& st = At(o, "status");
    s += " phase " + Str(st, "phase") + " lastAppliedSpec " + Str(st, "lastAppliedSpec") + " canaryWeight " +
         std::to_string(Int(st, "canaryWeight", 0)) + " pendingAlerts " + At(st, "pendingAlerts").dump() +
         " annotations " + At(At(o, "metadata"), "annotations").dump();
  } else if (c.key == kDeployments) {
    s += " " + DescribeDeployment(o) + " image " + ImageOf(o);
  } else if (c.key == kRoutes) {
    for (const auto& rule : At(At(o, "spec"), "rules")) {
      s += " [";
      for (const auto& ref : At(rule, "backendRefs"))
        s += " " + Str(ref, "name") + "=" + std::to_string(Int(ref, "weight", 1));
      s += " ]";
    }
  } else if (c.key == kServices) {
    s += " selector " + At(At(o, "spec"), "selector").dump();
  } else if (c.key == kEvents) {
    s += " " + Str(o, "reason") + " \"" + Str(o, "message") + "\" count " + std::to_string(Int(o, "count", 1)) +
         " last " + Str(o, "lastTimestamp");
  }
  return s;
}

InvariantChecker::InvariantChecker(CheckerOptions options) : options_(std::move(options)) {}

void InvariantChecker::Track(const std::string& ns, const std::string& app, const std::string& provider) {
  App& a = apps_[app];
  a.ns = ns;
  a.name = app;
  a.provider = provider;
}

std::vector<std::string> InvariantChecker::Apps() const {
  std::vector<std::string> out;
  for (const auto& [name, a] : apps_) out.push_back(name);
  return out;
}

InvariantChecker::App* InvariantChecker::AppOf(const Change& change) {
  std::string name = NameOf(change.object), ns = NamespaceOf(change.object);
  if (change.key == kEvents) {
    const json& involved = At(change.object, "involvedObject");
    if (Str(involved, "kind") != "Canary") return nullptr;
    name = Str(involved, "name");
    ns = Str(involved, "namespace");
  } else if (change.key == kDeployments || change.key == kServices) {
    // <app>, <app>-primary, <app>-canary.
    for (const char* suffix : {"-primary", "-canary"}) {
      std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
          apps_.count(name.substr(0, name.size() - s.size()))) {
        name = name.substr(0, name.size() - s.size());
        break;
      }
    }
  } else if (change.key != kRoutes && change.key != kCanaries) {
    return nullptr;
  }
  auto it = apps_.find(name);
  if (it == apps_.end() || it->second.ns != ns) return nullptr;
  return &it->second;
}

const json* InvariantChecker::Find(const std::string& key, const std::string& ns, const std::string& name) const {
  auto k = objects_.find(key);
  if (k == objects_.end()) return nullptr;
  auto o = k->second.find(Qualified(ns, name));
  return o == k->second.end() ? nullptr : &o->second;
}

void InvariantChecker::Apply(const Change& change) {
  App* app = AppOf(change);
  if (!app) return;
  if (change.key == kEvents) {
    CountEvent(*app, change);
    return;
  }
  std::string qualified = Qualified(NamespaceOf(change.object), NameOf(change.object));
  if (change.type == "DELETED")
    objects_[change.key].erase(qualified);
  else
    objects_[change.key][qualified] = change.object;

  if (change.key == kDeployments && NameOf(change.object) == app->name && change.type != "DELETED") {
    // A new pod template on the target is a new rollout; its Events are counted apart.
    std::string dump = At(At(change.object, "spec"), "template").dump();
    if (dump != app->template_dump) {
      app->template_dump = dump;
      app->rollout_starts.push_back(change.wall);
    }
  }
  if (change.key == kCanaries && app->pending) {
    // A controller that moves traffic before it writes status shows a rollback (or an abort,
    // or a revert) as a lower weight while the Canary still says Progressing: the move is
    // explained when the next phase of that revision is Failed or Succeeded (Reverted), or
    // when another revision starts. Promoting after it is not: promotion never lowers the
    // weight first.
    const json& status = At(change.object, "status");
    std::string phase = Str(status, "phase");
    if (Str(status, "lastAppliedSpec") != app->pending->revision || change.type == "DELETED" || phase == "Failed" ||
        phase == "Succeeded") {
      app->pending.reset();
    } else if (!Stepping(phase)) {
      violations_.push_back(Violation{'c', app->name, app->pending->at, std::nullopt, false, app->pending->rv,
                                      "canary weight moved back from " + std::to_string(app->pending->from) + " to " +
                                          std::to_string(app->pending->to) + " while analysing revision " +
                                          app->pending->revision + ", then the Canary went on to " + phase + " at " +
                                          Seconds(change.at) + " [rv " + std::to_string(change.rv) + "]"});
      app->pending.reset();
    }
  }
  bool owned = (change.key == kDeployments && NameOf(change.object) == app->name + "-primary") ||
               change.key == kServices || change.key == kRoutes;
  if (owned && change.type != "DELETED") CheckManagers(*app, change);
  Evaluate(*app, change);
}

void InvariantChecker::SetState(App& app, char invariant, const std::string& what, bool holds,
                                const std::string& detail, const Change& change) {
  std::string key = std::string(1, invariant) + "|" + what;
  auto it = app.open.find(key);
  if (holds && it == app.open.end()) {
    app.open[key] = Open{change.at, change.rv, detail};
  } else if (!holds && it != app.open.end()) {
    violations_.push_back(
        Violation{invariant, app.name, it->second.start, change.at, true, it->second.rv, it->second.detail});
    app.open.erase(it);
  }
}

std::optional<int> InvariantChecker::CanaryWeight(const App& app) const {
  if (app.provider == "kubernetes") {
    // A switch: the apex Service selects the canary pods (100) or the primary's (0).
    const json* apex = Find(kServices, app.ns, app.name);
    const json* target = Find(kDeployments, app.ns, app.name);
    if (!apex) return std::nullopt;
    return target && Selects(At(At(*apex, "spec"), "selector"), TemplateLabels(*target)) ? 100 : 0;
  }
  const json* route = Find(kRoutes, app.ns, app.name);
  if (!route) return std::nullopt;
  const json& rules = At(At(*route, "spec"), "rules");
  if (!rules.is_array() || rules.empty()) return std::nullopt;
  // The last rule is the weighted split; an A/B rule before it sends only matching requests.
  for (const auto& ref : At(rules.back(), "backendRefs"))
    if (Str(ref, "name") == app.name + "-canary") return static_cast<int>(Int(ref, "weight", 1));
  return 0;
}

void InvariantChecker::Evaluate(App& app, const Change& change) {
  const json* canary = Find(kCanaries, app.ns, app.name);
  const json& status = canary ? At(*canary, "status") : kNull;
  std::string phase = Str(status, "phase");
  std::string revision = Str(status, "lastAppliedSpec");
  std::string phase_text = canary ? "phase " + (phase.empty() ? std::string("<none>") : phase) : "no Canary";

  struct Flow {
    std::string via;
    std::string service;
    int weight;  // -1: everything that reaches the Service
  };
  std::vector<Flow> flows;
  if (const json* route = Find(kRoutes, app.ns, app.name)) {
    const json& rules = At(At(*route, "spec"), "rules");
    for (size_t i = 0; rules.is_array() && i < rules.size(); ++i)
      for (const auto& ref : At(rules[i], "backendRefs")) {
        std::string kind = ref.contains("kind") ? Str(ref, "kind") : "Service";
        int weight = static_cast<int>(Int(ref, "weight", 1));  // Gateway API's default weight is 1
        if (kind == "Service" && weight > 0)
          flows.push_back({"HTTPRoute " + Qualified(app.ns, app.name) + " rules[" + std::to_string(i) + "]",
                           Str(ref, "name"), weight});
      }
  }
  if (Find(kServices, app.ns, app.name)) flows.push_back({"apex Service " + Qualified(app.ns, app.name), app.name, -1});

  std::set<std::string> flowing;
  bool target_gets = false;
  std::string target_detail;
  for (const auto& flow : flows) {
    std::string what = flow.via + " -> " + flow.service;
    flowing.insert("a|" + what);
    std::string sends =
        flow.weight < 0 ? flow.via + " selects" : flow.via + " gives " + std::to_string(flow.weight) + " to";
    const json* svc = Find(kServices, app.ns, flow.service);
    std::string detail;
    bool ready = false;
    if (flow.weight >= 0 && !svc) {
      detail = sends + " Service " + flow.service + ", which does not exist";
    } else {
      const json& selector = svc ? At(At(*svc, "spec"), "selector") : kNull;
      std::string pods;
      auto it = objects_.find(kDeployments);
      if (it != objects_.end())
        for (const auto& [qualified, d] : it->second) {
          if (NamespaceOf(d) != app.ns || !Selects(selector, TemplateLabels(d))) continue;
          ready = ready || HasReadyPods(d);
          pods += (pods.empty() ? "" : ", ") + DescribeDeployment(d);
          if (NameOf(d) == app.name) {
            target_gets = true;
            target_detail +=
                (target_detail.empty() ? "" : "; ") + sends + " the canary pods (" + DescribeDeployment(d) + ")";
          }
        }
      detail = sends + " pods " + selector.dump() + ": " + (pods.empty() ? "no Deployment has them" : pods);
    }
    SetState(app, 'a', what, !ready, detail + "; " + phase_text, change);
  }
  // A flow that went away (weight 0, object deleted) ends its state.
  std::vector<std::string> gone;
  for (const auto& [key, open] : app.open)
    if (key.rfind("a|", 0) == 0 && !flowing.count(key)) gone.push_back(key.substr(2));
  for (const auto& what : gone) SetState(app, 'a', what, false, "", change);

  SetState(app, 'b', "canary traffic", target_gets && !Analysing(phase),
           target_detail + " while " + phase_text + (revision.empty() ? "" : " (lastAppliedSpec " + revision + ")"),
           change);

  std::optional<int> weight = CanaryWeight(app);
  if (weight && app.weight && *weight != *app.weight) {
    if (app.pending) {
      violations_.push_back(Violation{'c', app.name, app.pending->at, std::nullopt, false, app.pending->rv,
                                      "canary weight moved back from " + std::to_string(app.pending->from) + " to " +
                                          std::to_string(app.pending->to) + " while analysing revision " +
                                          app.pending->revision + ", then changed to " + std::to_string(*weight) +
                                          " at " + Seconds(change.at) + " [rv " + std::to_string(change.rv) +
                                          "] with the Canary still analysing it (" + phase_text + ")"});
      app.pending.reset();
    }
    if (*weight < *app.weight && Stepping(phase))
      app.pending = Pending{*app.weight, *weight, change.at, change.rv, revision};
  }
  if (weight) app.weight = weight;
}

void InvariantChecker::CheckManagers(App& app, const Change& change) {
  const json& fields = At(At(change.object, "metadata"), "managedFields");
  if (!fields.is_array()) return;
  std::string kind = Str(change.object, "kind");
  for (const auto& entry : fields) {
    std::string manager = Str(entry, "manager"), op = Str(entry, "operation"), sub = Str(entry, "subresource");
    bool ours = manager == options_.controller_manager || manager == options_.test_manager;
    // The cluster's Deployment controller writes a Deployment's status (the simulator here).
    bool cluster = manager == "kube-controller-manager" && sub == "status" && change.key == kDeployments;
    if (ours || cluster) continue;
    std::string id = kind + "/" + NameOf(change.object) + " " + manager + " " + op + " " + sub;
    if (!app.reported_managers.insert(id).second) continue;
    violations_.push_back(Violation{
        'f', app.name, change.at, std::nullopt, false, change.rv,
        kind + " " + Qualified(app.ns, NameOf(change.object)) + " has fields of manager \"" + manager + "\" (" + op +
            (sub.empty() ? "" : ", " + sub) + "); only \"" + options_.controller_manager + "\" may write it"});
  }
}

void InvariantChecker::CountEvent(App& app, const Change& change) {
  const json& e = change.object;
  std::string name = NameOf(e);
  app.last_event_at = change.at;
  if (change.type == "DELETED") {
    app.event_counts.erase(name);
    return;
  }
  int64_t count = Int(e, "count", 1);
  int64_t& seen = app.event_counts[name];
  int64_t delta = count - seen;
  seen = std::max(seen, count);
  std::string reason = Str(e, "reason");
  if (delta <= 0 || options_.repeatable_reasons.count(reason)) return;
  // Attributed to a rollout by when the controller recorded it (whole seconds, as Events
  // carry it), not by when the write landed: an Event write can be delayed by faults. The
  // driver leaves two seconds between a rollout's end and the next change of the template.
  std::string stamp = Str(e, change.type == "ADDED" ? "firstTimestamp" : "lastTimestamp");
  WallTime when = core::ParseTime(stamp).value_or(change.wall);
  int rollout = 0;
  for (size_t i = 1; i < app.rollout_starts.size(); ++i)
    if (std::chrono::floor<std::chrono::seconds>(app.rollout_starts[i]) <= when) rollout = static_cast<int>(i);
  auto& transition = app.transitions[{rollout, reason, Str(e, "message")}];
  if (transition.count <= 1 && transition.count + delta > 1) transition.first_repeat = change.at;
  transition.count += delta;
  transition.writes += std::string(transition.writes.empty() ? "" : ", ") + name + " count " + std::to_string(count) +
                       " at " + Seconds(change.at);
}

void InvariantChecker::Alert(const std::string& app, const std::string& revision, const std::string& reason,
                             const std::string& message, double at) {
  alerts_[{app, revision, reason, message}].push_back(at);
}

void InvariantChecker::Record(Violation v) { violations_.push_back(std::move(v)); }

void InvariantChecker::Finish(double at) {
  for (auto& [name, app] : apps_) {
    for (const auto& [key, open] : app.open)
      violations_.push_back(Violation{key[0], name, open.start, std::nullopt, true, open.rv,
                                      open.detail + " (still so " + Seconds(at - open.start) + " later, at the end)"});
    app.open.clear();
    if (app.pending) {
      violations_.push_back(Violation{'c', name, app.pending->at, std::nullopt, false, app.pending->rv,
                                      "canary weight moved back from " + std::to_string(app.pending->from) + " to " +
                                          std::to_string(app.pending->to) + " while analysing revision " +
                                          app.pending->revision + ", and the Canary never left that analysis"});
      app.pending.reset();
    }
    for (const auto& [key, seen] : app.transitions) {
      const auto& [rollout, reason, message] = key;
      if (seen.count <= 1) continue;
      violations_.push_back(Violation{'e', name, seen.first_repeat, std::nullopt, false, 0,
                                      "Event " + reason + " \"" + message + "\" recorded " +
                                          std::to_string(seen.count) + " times in rollout " + std::to_string(rollout) +
                                          " (" + seen.writes + ")"});
    }
    app.transitions.clear();
  }
  for (const auto& [key, times] : alerts_) {
    const auto& [app, revision, reason, message] = key;
    if (times.size() <= 1) continue;
    std::string when;
    for (double t : times) when += (when.empty() ? "" : ", ") + Seconds(t);
    violations_.push_back(Violation{'e', app, times[1], std::nullopt, false, 0,
                                    "alert " + reason + " \"" + message + "\" for revision " + revision +
                                        " delivered " + std::to_string(times.size()) + " times (at " + when + ")"});
  }
  alerts_.clear();
  std::stable_sort(violations_.begin(), violations_.end(),
                   [](const Violation& x, const Violation& y) { return x.start < y.start; });
}

size_t InvariantChecker::OpenStates() const {
  size_t n = 0;
  for (const auto& [name, app] : apps_) n += app.open.size();
  return n;
}

AppView InvariantChecker::View(const std::string& name) const {
  AppView v;
  auto it = apps_.find(name);
  if (it == apps_.end()) return v;
  const App& app = it->second;
  if (const json* canary = Find(kCanaries, app.ns, app.name)) {
    v.canary_exists = true;
    const json& status = At(*canary, "status");
    v.phase = Str(status, "phase");
    v.last_applied = Str(status, "lastAppliedSpec");
    for (const auto& c : At(status, "conditions"))
      if (Str(c, "type") == "Ready") v.ready_reason = Str(c, "reason");
    v.abort_annotation = At(At(At(*canary, "metadata"), "annotations"), "sluice.dev/abort").is_string();
  }
  if (const json* primary = Find(kDeployments, app.ns, app.name + "-primary")) v.primary_image = ImageOf(*primary);
  v.canary_weight = CanaryWeight(app);
  v.rollouts_seen = app.rollout_starts.empty() ? 0 : static_cast<int>(app.rollout_starts.size()) - 1;
  v.last_event_at = app.last_event_at;
  return v;
}

}  // namespace sluice::testing::faults
