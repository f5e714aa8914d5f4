#include "sandbox/emulator/certs.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace sluice::sandbox {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;

[[noreturn]] void Fail(const std::string& step) {
  char buf[256] = {0};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  throw std::runtime_error("emulator TLS: " + step + " failed: " + buf);
}

Key NewKey() {
  // P-256 keys are generated in microseconds; RSA would slow every test start.
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) Fail("generating an EC key");
  return Key(k);
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) Fail(std::string("adding extension ") + value);
}

Cert NewCert(EVP_PKEY* key, const std::string& cn, const std::string& org, X509* issuer) {
  Cert cert(X509_new());
  if (!cert) Fail("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!org.empty())
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  return cert;
}

void Sign(X509* cert, EVP_PKEY* key) {
  if (!X509_sign(cert, key, EVP_sha256())) Fail("signing a certificate");
}

std::string Pem(X509* cert) {
  std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) Fail("writing a certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string Pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) Fail("writing a key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

GeneratedCerts GenerateCerts() {
  Key ca_key = NewKey();
  Cert ca = NewCert(ca_key.get(), "sluice-emulator-ca", "", nullptr);
  AddExt(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExt(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  AddExt(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  Sign(ca.get(), ca_key.get());

  Key server_key = NewKey();
  Cert server = NewCert(server_key.get(), "sluice-emulator", "", ca.get());
  AddExt(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExt(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  AddExt(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  AddExt(server.get(), ca.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  AddExt(server.get(), ca.get(), NID_authority_key_identifier, "keyid");
  Sign(server.get(), ca_key.get());

  Key client_key = NewKey();
  Cert client = NewCert(client_key.get(), "sluice-admin", "system:masters", ca.get());
  AddExt(client.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExt(client.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  AddExt(client.get(), ca.get(), NID_ext_key_usage, "clientAuth");
  AddExt(client.get(), ca.get(), NID_authority_key_identifier, "keyid");
  Sign(client.get(), ca_key.get());

  return GeneratedCerts{Pem(ca.get()),     Pem(ca_key.get()),     Pem(server.get()),
                        Pem(server_key.get()), Pem(client.get()), Pem(client_key.get())};
}

}  // namespace sluice::sandbox
