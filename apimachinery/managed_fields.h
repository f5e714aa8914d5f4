// Server-side apply and field ownership (metadata.managedFields, fieldsType FieldsV1).
#pragma once

#include "core/clock.h"
#include "apimachinery/list_semantics.h"

#include <nlohmann/json.hpp>

#include <string>

namespace sluice::apimachinery {

struct ApplyRequest {
  std::string manager;      // fieldManager (required; the server refuses an empty one)
  std::string api_version;  // recorded in the managedFields entry
  bool force = false;
  std::string subresource;  // "" or "status": recorded in the entry
  // The kind has a status subresource, so an apply to the main resource ignores `status` (the
  // API server resets it) and neither owns nor conflicts on it. An apply to "status" always
  // considers only `status`.
  bool status_is_subresource = false;
};

// Applies the manager's intended object to the live one (`live` null when creating):
// fields the manager owns and no longer sends are removed; fields other managers own with a
// different value are a conflict (kube::ApiError 409 Conflict, one FieldManagerConflict cause
// per field, message "Apply failed with N conflict(s): ...") unless force, which takes them
// over. Returns the new object with metadata.managedFields updated (operation Apply).
nlohmann::json ServerSideApply(const nlohmann::json& live, const nlohmann::json& applied,
                               const ApplyRequest& request, const ListSemanticsFn& lists, core::TimePoint now);

// Records a non-apply write (create, update, patch) by `manager`: the fields it changed or
// added become its own (operation Update) and are taken from other managers. `before` is null
// for a create. Returns `after` with metadata.managedFields updated.
nlohmann::json TrackUpdate(const nlohmann::json& before, const nlohmann::json& after, const std::string& manager,
                           const std::string& api_version, const ListSemanticsFn& lists, core::TimePoint now,
                           const std::string& subresource = "");

}  // namespace sluice::apimachinery
