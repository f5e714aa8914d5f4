// JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch over plain
// JSON. Failures are API errors shaped as the API server answers them: a malformed patch is
// 400 BadRequest, a well-formed JSON patch that does not apply (failed "test", missing path)
// is 422 Invalid.
#include "apimachinery/patch.h"

#include "core/api_error.h"

#include <algorithm>
#include <optional>
#include <set>

namespace sluice::apimachinery {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// JSON patch

// Same ceiling as the API server: beyond it a patch is refused before it is applied.
constexpr size_t kMaxJsonPatchOperations = 10000;

// The API server's generic 422 text is kept as a prefix so clients that look for it still
// recognise a patch that did not apply; the rest names the operation.
constexpr const char* kRejected = "the server rejected our request due to an error in our request";

struct JsonPatchOp {
  size_t index = 0;
  std::string op;
  std::string path;
  std::vector<std::string> tokens;
  std::string from;
  std::vector<std::string> from_tokens;
  const json* value = nullptr;

  std::string Describe() const {
    return "json patch operation " + std::to_string(index) + " (" + op + " " + (path.empty() ? "\"\"" : path) + ")";
  }
};

[[noreturn]] void Malformed(size_t index, const std::string& what) {
  throw core::ApiError::BadRequest("json patch operation " + std::to_string(index) + ": " + what);
}

[[noreturn]] void DoesNotApply(const JsonPatchOp& op, const std::string& what) {
  throw core::ApiError(422, "Invalid", std::string(kRejected) + ": " + op.Describe() + ": " + what);
}

std::vector<std::string> ParsePointer(size_t index, const std::string& field, const std::string& pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') Malformed(index, field + " \"" + pointer + "\" is not a JSON pointer (it must start with /)");
  std::string current;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(current);
      current.clear();
    } else if (pointer[i] == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next != '0' && next != '1')
        Malformed(index, field + " \"" + pointer + "\" has an invalid escape (only ~0 and ~1 are allowed)");
      current += next == '0' ? '~' : '/';
      ++i;
    } else {
      current += pointer[i];
    }
  }
  return tokens;
}

std::string PointerOf(const std::vector<std::string>& tokens, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    std::string t = tokens[i];
    std::string escaped;
    for (char c : t) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
    out += "/" + escaped;
  }
  return out;
}

std::optional<size_t> ArrayIndex(const std::string& token) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return static_cast<size_t>(std::stoul(token));
}

JsonPatchOp ParseOp(const json& raw, size_t index) {
  static const std::set<std::string> kOps = {"add", "remove", "replace", "move", "copy", "test"};
  if (!raw.is_object()) Malformed(index, std::string("must be an object, got ") + raw.type_name());
  JsonPatchOp op;
  op.index = index;
  auto it = raw.find("op");
  if (it == raw.end() || !it->is_string()) Malformed(index, "\"op\" is missing or not a string");
  op.op = it->get<std::string>();
  if (!kOps.count(op.op))
    Malformed(index, "unknown op \"" + op.op + "\" (expected add, remove, replace, move, copy or test)");
  it = raw.find("path");
  if (it == raw.end() || !it->is_string()) Malformed(index, "\"path\" is missing or not a string");
  op.path = it->get<std::string>();
  op.tokens = ParsePointer(index, "path", op.path);
  if (op.op == "add" || op.op == "replace" || op.op == "test") {
    it = raw.find("value");
    if (it == raw.end()) Malformed(index, "\"" + op.op + "\" needs a \"value\"");
    op.value = &*it;
  }
  if (op.op == "move" || op.op == "copy") {
    it = raw.find("from");
    if (it == raw.end() || !it->is_string()) Malformed(index, "\"" + op.op + "\" needs a string \"from\"");
    op.from = it->get<std::string>();
    op.from_tokens = ParsePointer(index, "from", op.from);
  }
  return op;
}

// The value at `tokens`, or nullptr when it does not exist.
json* Resolve(json& doc, const std::vector<std::string>& tokens, size_t count) {
  json* node = &doc;
  for (size_t i = 0; i < count; ++i) {
    if (node->is_object()) {
      auto it = node->find(tokens[i]);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      auto idx = ArrayIndex(tokens[i]);
      if (!idx || *idx >= node->size()) return nullptr;
      node = &(*node)[*idx];
    } else {
      return nullptr;
    }
  }
  return node;
}

json& Existing(json& doc, const std::vector<std::string>& tokens, const JsonPatchOp& op, const std::string& path) {
  json* node = Resolve(doc, tokens, tokens.size());
  if (!node) {
    // Name the deepest prefix that is missing, which is what a user needs to fix the patch.
    size_t have = 0;
    while (have < tokens.size() && Resolve(doc, tokens, have + 1)) ++have;
    DoesNotApply(op, "path " + path + " does not exist (" + PointerOf(tokens, have + 1) + " is missing)");
  }
  return *node;
}

json& Parent(json& doc, const JsonPatchOp& op, const std::vector<std::string>& tokens, const std::string& path) {
  json* parent = Resolve(doc, tokens, tokens.size() - 1);
  if (!parent) {
    size_t have = 0;
    while (have + 1 < tokens.size() && Resolve(doc, tokens, have + 1)) ++have;
    DoesNotApply(op, "path " + path + " does not exist (" + PointerOf(tokens, have + 1) + " is missing)");
  }
  if (!parent->is_object() && !parent->is_array())
    DoesNotApply(op, "the parent of " + path + " is a " + parent->type_name() + ", not an object or array");
  return *parent;
}

void Add(json& doc, const JsonPatchOp& op, const std::vector<std::string>& tokens, const std::string& path, json value) {
  if (tokens.empty()) {
    doc = std::move(value);
    return;
  }
  json& parent = Parent(doc, op, tokens, path);
  const std::string& last = tokens.back();
  if (parent.is_object()) {
    parent[last] = std::move(value);
    return;
  }
  if (last == "-") {
    parent.push_back(std::move(value));
    return;
  }
  auto idx = ArrayIndex(last);
  if (!idx) DoesNotApply(op, "\"" + last + "\" is not an array index");
  if (*idx > parent.size())
    DoesNotApply(op, "index " + last + " is out of range (the array has " + std::to_string(parent.size()) + " items)");
  parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
}

json Remove(json& doc, const JsonPatchOp& op, const std::vector<std::string>& tokens, const std::string& path) {
  if (tokens.empty()) DoesNotApply(op, "the whole document cannot be removed");
  json moved = Existing(doc, tokens, op, path);
  json& parent = Parent(doc, op, tokens, path);
  if (parent.is_object()) {
    parent.erase(tokens.back());
  } else {
    parent.erase(static_cast<size_t>(*ArrayIndex(tokens.back())));
  }
  return moved;
}

void ApplyOne(json& doc, const JsonPatchOp& op) {
  if (op.op == "add") {
    Add(doc, op, op.tokens, op.path, *op.value);
  } else if (op.op == "remove") {
    Remove(doc, op, op.tokens, op.path);
  } else if (op.op == "replace") {
    Existing(doc, op.tokens, op, op.path) = *op.value;
  } else if (op.op == "test") {
    const json& found = Existing(doc, op.tokens, op, op.path);
    if (found != *op.value)
      DoesNotApply(op, "testing value " + op.path + " failed: test failed (found " + found.dump() + ", want " +
                           op.value->dump() + ")");
  } else if (op.op == "copy") {
    json value = Existing(doc, op.from_tokens, op, op.from);
    Add(doc, op, op.tokens, op.path, std::move(value));
  } else if (op.op == "move") {
    if (op.from == op.path) {
      Existing(doc, op.from_tokens, op, op.from);
      return;
    }
    if (op.path.rfind(op.from + "/", 0) == 0) DoesNotApply(op, "cannot move " + op.from + " into its own child");
    json value = Remove(doc, op, op.from_tokens, op.from);
    Add(doc, op, op.tokens, op.path, std::move(value));
  }
}

// ---------------------------------------------------------------------------------------
// JSON merge patch

// `target` is taken by value and its children are moved down, not copied: copying each level
// copied everything below it again, so 1000 nested objects cost seconds and 700 MB.
json MergeValue(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      auto it = target.find(key);
      json child = it == target.end() ? json() : std::move(*it);
      target[key] = MergeValue(std::move(child), value);
    }
  }
  return target;
}

// ---------------------------------------------------------------------------------------
// Strategic merge patch

constexpr const char* kPatchDirective = "$patch";
constexpr const char* kRetainKeys = "$retainKeys";
const std::string kSetElementOrder = "$setElementOrder/";
const std::string kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

[[noreturn]] void BadSmp(const std::vector<std::string>& names, const std::string& what) {
  std::string where;
  for (const auto& n : names) where += (where.empty() ? "" : ".") + n;
  throw core::ApiError::BadRequest("strategic merge patch" + (where.empty() ? "" : " at " + where) + ": " + what);
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool IsDirectiveKey(const std::string& key) {
  return key == kPatchDirective || key == kRetainKeys || StartsWith(key, kSetElementOrder) ||
         StartsWith(key, kDeleteFromPrimitiveList);
}

class StrategicMerger {
 public:
  explicit StrategicMerger(const ListSemanticsFn& lists) : lists_(lists) {}

  // nullopt: the map asked to be deleted ($patch: delete). `original` is taken by value and
  // its children are moved down, never copied (MergeField): copying each level copied all
  // below it again, so 1000 nested objects cost seconds and 700 MB. The patch is read in
  // place; its "$patch" key is a directive key, which every loop below passes over.
  std::optional<json> MergeMap(json original, const json& patch, std::vector<std::string>& names) {
    if (auto it = patch.find(kPatchDirective); it != patch.end()) {
      if (!it->is_string()) BadSmp(names, "$patch must be a string, got " + it->dump());
      const std::string directive = it->get<std::string>();
      if (directive == "delete") return std::nullopt;
      if (directive == "replace") original = json::object();
      else if (directive != "merge")
        BadSmp(names, "unknown patch type: " + directive + " (expected replace, delete or merge)");
    }
    const json& work = patch;
    json result = original.is_object() ? std::move(original) : json::object();
    ApplyRetainKeys(result, work, names);

    std::set<std::string> list_fields;
    for (const auto& [key, value] : work.items()) {
      if (StartsWith(key, kSetElementOrder)) list_fields.insert(key.substr(kSetElementOrder.size()));
      if (StartsWith(key, kDeleteFromPrimitiveList)) list_fields.insert(key.substr(kDeleteFromPrimitiveList.size()));
    }
    for (const auto& [key, value] : work.items()) {
      if (IsDirectiveKey(key)) continue;
      if (value.is_array()) {
        list_fields.insert(key);
        continue;
      }
      MergeField(result, key, value, names);
    }
    for (const auto& field : list_fields) MergeListField(result, field, work, names);
    return result;
  }

 private:
  void MergeField(json& result, const std::string& key, const json& value, std::vector<std::string>& names) {
    if (value.is_null()) {
      result.erase(key);
      return;
    }
    names.push_back(key);
    auto it = result.find(key);
    if (value.is_object()) {
      // Moved out: the key is assigned or erased right after.
      json original = it != result.end() && it->is_object() ? std::move(*it) : json::object();
      auto merged = MergeMap(std::move(original), value, names);
      if (merged) {
        result[key] = std::move(*merged);
      } else {
        result.erase(key);
      }
    } else {
      result[key] = value;
    }
    names.pop_back();
  }

  void ApplyRetainKeys(json& result, const json& patch, const std::vector<std::string>& names) {
    auto it = patch.find(kRetainKeys);
    if (it == patch.end()) return;
    if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const json& k) { return k.is_string(); }))
      BadSmp(names, "invalid patch format for retainKeys: $retainKeys must be a list of field names");
    std::set<std::string> retain;
    for (const auto& k : *it) retain.insert(k.get<std::string>());
    for (const auto& [key, value] : patch.items()) {
      if (value.is_null() || IsDirectiveKey(key)) continue;
      if (!retain.count(key))
        BadSmp(names, "invalid patch format for retainKeys: field \"" + key + "\" is patched but not in $retainKeys");
    }
    for (auto field = result.begin(); field != result.end();) {
      field = retain.count(field.key()) ? std::next(field) : result.erase(field);
    }
  }

  void MergeListField(json& result, const std::string& field, const json& patch, std::vector<std::string>& names) {
    names.push_back(field);
    const ListSemantics sem = lists_ ? lists_(names) : ListSemantics{};
    const json* patch_list = nullptr;
    // A list field called "$patch" (named by $setElementOrder/$patch) is not the directive.
    if (auto it = patch.find(field); it != patch.end() && field != kPatchDirective) {
      if (it->is_null()) {
        result.erase(field);
        names.pop_back();
        return;
      }
      if (!it->is_array())
        BadSmp(names, "the list directives name a list, but the patch sets it to a " + std::string(it->type_name()));
      patch_list = &*it;
    }
    const json* order = DirectiveList(patch, kSetElementOrder + field, names);
    const json* deletions = DirectiveList(patch, kDeleteFromPrimitiveList + field, names);
    auto existing = result.find(field);
    const bool has_original = existing != result.end() && existing->is_array();
    if (!patch_list && !has_original) {
      names.pop_back();
      return;
    }
    const json original = has_original ? *existing : json::array();
    json merged = patch_list ? MergeList(original, *patch_list, sem, names) : original;
    if (deletions) {
      json kept = json::array();
      for (const auto& item : merged) {
        if (std::find(deletions->begin(), deletions->end(), item) == deletions->end()) kept.push_back(item);
      }
      merged = std::move(kept);
    }
    if (order) {
      CheckOrderCoversPatch(*order, patch_list, sem, names);
      merged = Reorder(merged, *order, original, sem);
    }
    // A list emptied by deletions disappears, as it does when the API server re-encodes a
    // built-in object; a list the patch sets to [] explicitly stays.
    const bool emptied = merged.empty() && !original.empty() && !(patch_list && patch_list->empty());
    if (emptied) {
      result.erase(field);
    } else {
      result[field] = std::move(merged);
    }
    names.pop_back();
  }

  const json* DirectiveList(const json& patch, const std::string& key, const std::vector<std::string>& names) {
    auto it = patch.find(key);
    if (it == patch.end()) return nullptr;
    if (!it->is_array()) BadSmp(names, key + " must be a list, got " + std::string(it->type_name()));
    return &*it;
  }

  // Whether a patch item (or $setElementOrder entry) names an existing item. Strategic merge
  // patch identifies items by the patch merge key alone (kubectl sends only it), so further
  // keys such as a port's protocol only narrow the match when both sides carry them.
  static bool Matches(const json& patch_item, const json& item, const ListSemantics& sem) {
    if (sem.type != ListSemantics::Type::kMap) return patch_item == item;
    if (!patch_item.is_object() || !item.is_object()) return false;
    for (size_t i = 0; i < sem.keys.size(); ++i) {
      const std::string& k = sem.keys[i];
      auto p = patch_item.find(k);
      auto o = item.find(k);
      if (i == 0 && (p == patch_item.end() || o == item.end())) return false;
      if (p != patch_item.end() && o != item.end() && *p != *o) return false;
    }
    return true;
  }

  static std::ptrdiff_t IndexIn(const json& list, const json& item, const ListSemantics& sem) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (Matches(item, list[i], sem)) return static_cast<std::ptrdiff_t>(i);
    }
    return -1;
  }

  json MergeList(const json& original, const json& patch, const ListSemantics& sem, std::vector<std::string>& names) {
    switch (sem.type) {
      case ListSemantics::Type::kAtomic:
        return CleanAtomic(patch, names);
      case ListSemantics::Type::kSet:
        return MergeSet(original, patch, sem, names);
      case ListSemantics::Type::kMap:
        return MergeMapList(original, patch, sem, names);
    }
    return patch;
  }

  json CleanAtomic(const json& patch, std::vector<std::string>& names) {
    json out = json::array();
    for (const auto& item : patch) {
      if (item.is_object() && item.contains(kPatchDirective)) continue;
      if (item.is_object()) {
        auto cleaned = MergeMap(json::object(), item, names);
        if (cleaned) out.push_back(std::move(*cleaned));
      } else {
        out.push_back(item);
      }
    }
    return out;
  }

  json MergeSet(const json& original, const json& patch, const ListSemantics& sem, const std::vector<std::string>& names) {
    json merged = json::array();
    for (const auto& item : original) {
      if (IndexIn(merged, item, sem) < 0) merged.push_back(item);
    }
    json patch_items = json::array();
    for (const auto& item : patch) {
      if (item.is_object() || item.is_array())
        BadSmp(names, "a list of scalars cannot take a " + std::string(item.type_name()) + " item: " + item.dump());
      if (IndexIn(patch_items, item, sem) < 0) patch_items.push_back(item);
      if (IndexIn(merged, item, sem) < 0) merged.push_back(item);
    }
    return Reorder(merged, patch_items, original, sem);
  }

  json MergeMapList(const json& original, const json& patch, const ListSemantics& sem, std::vector<std::string>& names) {
    json result = original;
    json plain = json::array();
    bool replace = false;
    for (const auto& item : patch) {
      if (!item.is_object())
        BadSmp(names, "items of a list merged by " + sem.keys.front() + " must be objects, got " + item.dump());
      auto directive = item.find(kPatchDirective);
      if (directive == item.end()) {
        if (!item.contains(sem.keys.front()))
          BadSmp(names, "map: " + item.dump() + " does not contain declared merge key: " + sem.keys.front());
        plain.push_back(item);
        continue;
      }
      const std::string d = directive->is_string() ? directive->get<std::string>() : directive->dump();
      if (d == "replace") {
        replace = true;
      } else if (d == "delete") {
        if (!item.contains(sem.keys.front()))
          BadSmp(names, "map: " + item.dump() + " does not contain declared merge key: " + sem.keys.front());
        json kept = json::array();
        for (const auto& existing : result) {
          if (!Matches(item, existing, sem)) kept.push_back(existing);
        }
        result = std::move(kept);
      } else if (d == "merge") {
        BadSmp(names, "merging lists cannot yet be specified in the patch");
      } else {
        BadSmp(names, "unknown patch type: " + d + " in list item " + item.dump());
      }
    }
    if (replace) return CleanAtomic(plain, names);
    const json before_merge = result;
    for (const auto& item : plain) {
      std::ptrdiff_t at = IndexIn(result, item, sem);
      auto merged = MergeMap(at >= 0 ? result[static_cast<size_t>(at)] : json::object(), item, names);
      if (at >= 0) {
        if (merged) {
          result[static_cast<size_t>(at)] = std::move(*merged);
        } else {
          result.erase(static_cast<size_t>(at));
        }
      } else if (merged) {
        result.push_back(std::move(*merged));
      }
    }
    return Reorder(result, plain, before_merge, sem);
  }

  // Orders `merged` the way the API server does: items named in `order` follow it, the other
  // (server-only) items keep their relative order and are interleaved by their positions in
  // `original`; an item unknown to `original` goes before the server-only items still pending.
  static json Reorder(const json& merged, const json& order, const json& original, const ListSemantics& sem) {
    std::vector<std::pair<std::ptrdiff_t, json>> ordered;
    json server_only = json::array();
    for (const auto& item : merged) {
      std::ptrdiff_t at = IndexIn(order, item, sem);
      if (at >= 0) {
        ordered.emplace_back(at, item);
      } else {
        server_only.push_back(item);
      }
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    json out = json::array();
    size_t i = 0, j = 0;
    while (i < server_only.size() || j < ordered.size()) {
      if (j >= ordered.size()) {
        out.push_back(server_only[i++]);
        continue;
      }
      if (i >= server_only.size()) {
        out.push_back(ordered[j++].second);
        continue;
      }
      std::ptrdiff_t left = IndexIn(original, server_only[i], sem);
      std::ptrdiff_t right = IndexIn(original, ordered[j].second, sem);
      if (left >= 0 && right >= 0 && left < right) {
        out.push_back(server_only[i++]);
      } else {
        out.push_back(ordered[j++].second);
      }
    }
    return out;
  }

  void CheckOrderCoversPatch(const json& order, const json* patch_list, const ListSemantics& sem,
                             const std::vector<std::string>& names) {
    for (const auto& entry : order) {
      if (sem.type == ListSemantics::Type::kMap && (!entry.is_object() || !entry.contains(sem.keys.front())))
        BadSmp(names, "$setElementOrder entry " + entry.dump() + " does not contain merge key " + sem.keys.front());
    }
    if (!patch_list) return;
    for (const auto& item : *patch_list) {
      if (item.is_object() && item.contains(kPatchDirective)) continue;
      if (IndexIn(order, item, sem) < 0)
        BadSmp(names, "$setElementOrder does not list the patched item " + item.dump());
    }
  }

  const ListSemanticsFn& lists_;
};

}  // namespace

json ApplyJsonPatch(const json& original, const json& patch) {
  if (!patch.is_array())
    throw core::ApiError::BadRequest(std::string("a json patch must be a list of operations, got ") + patch.type_name());
  if (patch.size() > kMaxJsonPatchOperations)
    throw core::ApiError::RequestEntityTooLarge("The allowed maximum operations in a JSON patch is " +
                                                std::to_string(kMaxJsonPatchOperations) + ", got " +
                                                std::to_string(patch.size()));
  std::vector<JsonPatchOp> ops;
  ops.reserve(patch.size());
  for (size_t i = 0; i < patch.size(); ++i) ops.push_back(ParseOp(patch[i], i));
  json doc = original;
  for (const auto& op : ops) ApplyOne(doc, op);
  return doc;
}

json ApplyMergePatch(const json& original, const json& patch) {
  if (!patch.is_object())
    throw core::ApiError::BadRequest(std::string("a merge patch must be a JSON object, got ") + patch.type_name());
  return MergeValue(original, patch);
}

json ApplyStrategicMergePatch(const json& original, const json& patch, const ListSemanticsFn& lists) {
  if (!patch.is_object())
    throw core::ApiError::BadRequest(std::string("a strategic merge patch must be a JSON object, got ") +
                                     patch.type_name());
  std::vector<std::string> names;
  auto merged = StrategicMerger(lists).MergeMap(original, patch, names);
  return merged ? *merged : json::object();
}

}  // namespace sluice::apimachinery
