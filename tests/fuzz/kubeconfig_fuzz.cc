// A kubeconfig file (kube/config.h): what --kubeconfig and KUBECONFIG point the controller,
// the CLI and the sandbox at. Parsed as one document; the files it names are only opened.
#include "kube/config.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::Text(data, size));
  // As given inline, and as a file whose relative paths resolve against its folder; with the
  // current context, and with -n and --context from the command line.
  for (const char* source : {"<inline>", "/nonexistent/kube/config"}) {
    for (const kube::KubeconfigOptions& options : {kube::KubeconfigOptions{}, kube::KubeconfigOptions{"", "dev", "shop"}}) {
      try {
        kube::RestConfig rc = kube::ParseKubeconfig(text, options, source);
        // A config the parser accepts names a server a client can dial.
        SLUICE_FUZZ_CHECK(rc.server.rfind("https://", 0) == 0 || rc.server.rfind("http://", 0) == 0);
        SLUICE_FUZZ_CHECK(!rc.ns.empty());
      } catch (const kube::ConfigError&) {  // names the file and the field
      }
    }
  }
  return 0;
}
