// Go durations ("90s", "1m30s", "500ms", "1.5h"), as Kubernetes and Flux/Flagger users write
// them in specs. The one parser of the project: every field and flag that takes a duration
// goes through it, so a value means the same everywhere.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::core {

// Parses a Go duration: one or more decimal numbers each followed by a unit (ns, us, µs,
// ms, s, m, h), or "0" alone. nullopt for anything else, and for a negative, non-finite or
// longer than ~31 years (10^12 ms) value: nothing Sluice waits for is negative or unbounded.
// Sub-millisecond parts are rounded to the nearest millisecond.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest exact Go form of `d`: "90s", "2m", "1h", "1500ms".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace sluice::core
