/* Self-test of the native SHA-256 / Merkle C sources without Python: every backend the
 * CPU offers must agree with the portable one on messages of many lengths and on Merkle
 * roots (1 and 2 threads), and SHA-256("abc") must be the FIPS 180-4 vector. Used by
 * arm_crosscheck.sh to run the AArch64 build under qemu. Exit status = mismatches. */
#include "mbi_sha256.h"
#include "mbi_merkle.h"
#include "mbi_cpu.h"
#include "mbi_parallel.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
int main(){
  mbi_parallel_bind(mbi_pool_get_api()); /* the shared pool, as core_ext binds it */
  mbi_pool_set_size(2);
  const mbi_sha256_impl *L[16]; int n=mbi_sha256_impls(L,16);
  for(int i=0;i<n;i++) printf("backend %s\n", L[i]->name);
  static uint8_t buf[40000]; for(int i=0;i<40000;i++) buf[i]=(uint8_t)(i*31+7);
  int bad=0;
  for(size_t len=0; len<3000; len+=7){
    uint8_t a[32], b[32];
    mbi_sha256(L[n-1], buf, len, a);
    for(int i=0;i<n;i++){ mbi_sha256(L[i], buf, len, b); if(memcmp(a,b,32)) {bad++; printf("mismatch %s len %zu\n", L[i]->name, len);} }
  }
  /* sha256_many: equal lengths (lockstep / pairs) and mixed lengths, vs one at a time */
  static int64_t off[202];
  static uint8_t many[201 * 32];
  for (int mode = 0; mode < 2; mode++) {
    off[0] = 0;
    for (int i = 1; i <= 200; i++) off[i] = off[i - 1] + (mode ? (i * 37) % 140 : 64);
    for (int i = 0; i < n; i++) {
      mbi_sha256_many(L[i], buf, off, 200, many, 1);
      for (int m = 0; m < 200; m++) {
        uint8_t want[32];
        mbi_sha256(L[n-1], buf + off[m], (size_t)(off[m + 1] - off[m]), want);
        if (memcmp(want, many + 32 * m, 32)) { bad++; printf("many mismatch %s mode %d msg %d\n", L[i]->name, mode, m); break; }
      }
    }
  }
  uint8_t r1[32], r2[32];
  for(int i=0;i<n;i++){ mbi_merkle_root(L[n-1], buf, 93, 1, r1); mbi_merkle_root(L[i], buf, 93, 2, r2); if(memcmp(r1,r2,32)) {bad++; printf("root mismatch %s\n", L[i]->name);} }
  static const uint8_t abc[32] = {
      0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  for(int i=0;i<n;i++){ uint8_t e[32]; mbi_sha256(L[i],(const uint8_t*)"abc",3,e); if(memcmp(e,abc,32)) {bad++; printf("abc mismatch %s\n", L[i]->name);} }
  printf("bad=%d\n",bad);
  return bad;
}
