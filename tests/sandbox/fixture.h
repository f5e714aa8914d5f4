// Starts an emulator on a free loopback port for one test and stops it afterwards.
#pragma once

#include "sandbox/emulator/emulator.h"
#include "tests/sandbox/test_client.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace sluice::sandbox::testing {

struct EmulatorFixture {
  explicit EmulatorFixture(EmulatorOptions options = {}) : emulator(Adjust(std::move(options))) {
    emulator.Start();
    client = std::make_unique<TestClient>(emulator.port());
  }
  ~EmulatorFixture() { emulator.Stop(); }

  static EmulatorOptions Adjust(EmulatorOptions o) {
    o.listen = "127.0.0.1:0";
    return o;
  }

  Emulator emulator;
  std::unique_ptr<TestClient> client;
};

inline nlohmann::json ConfigMap(const std::string& name, const nlohmann::json& data = {{"k", "v"}}) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

inline nlohmann::json DeploymentObject(const std::string& name, int replicas = 2) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "nginx:1.27"}}}}}}}}}}};
}

// Polls until pred holds or the timeout passes; returns whether it held.
inline bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline std::string Rv(const nlohmann::json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

}  // namespace sluice::sandbox::testing
