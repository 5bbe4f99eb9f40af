/*
 * fake_libedgetpu.c: a stand-in for Coral's libedgetpu.so.1, for edgedoctor's tests (no Edge TPU needed).
 *
 * It exports the real C names of tflite/public/edgetpu_c.h (google-coral/libedgetpu) and the TFLite
 * external-delegate plugin ABI that `tflite_runtime.interpreter.load_delegate()` uses:
 *
 *   const char* edgetpu_version(void);
 *   struct edgetpu_device* edgetpu_list_devices(size_t* num_devices);
 *   void edgetpu_free_devices(struct edgetpu_device* dev);
 *   TfLiteDelegate* edgetpu_create_delegate(enum edgetpu_device_type, const char* name,
 *                                           const struct edgetpu_option* options, size_t num_options);
 *   void edgetpu_free_delegate(TfLiteDelegate* delegate);
 *   void edgetpu_verbosity(int verbosity);
 *   TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t num_options,
 *                                                 void (*report_error)(const char*));
 *   void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate);
 *
 * Behaviour is chosen at run time by environment variables (read on every call):
 *
 *   FAKE_EDGETPU_VERSION   the string edgetpu_version() returns. Default:
 *                          "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)"
 *   FAKE_EDGETPU_DEVICES   comma-separated TYPE:PATH list for edgetpu_list_devices(), TYPE is usb or pci,
 *                          e.g. "usb:/sys/bus/usb/devices/2-1,pci:/dev/apex_0". Default: no device.
 *   FAKE_EDGETPU_MODE      how the runtime API behaves:
 *                            ok          (default) as above
 *                            fail        edgetpu_version() returns NULL; edgetpu_list_devices() logs an error
 *                                        on stderr and returns NULL with *num_devices = 0
 *                            crash       SIGSEGV inside edgetpu_version()
 *                            hang        edgetpu_version() never returns
 *                            crash-list  SIGSEGV inside edgetpu_list_devices()
 *                            hang-list   edgetpu_list_devices() never returns
 *                            crash-load  SIGSEGV while the library is being loaded (a constructor)
 *                            sigill-load an illegal instruction while it is being loaded, as a build for a
 *                                        newer CPU gives (ARMv6 boards, x86 without AVX)
 *   FAKE_EDGETPU_DELEGATE  how tflite_plugin_create_delegate() and edgetpu_create_delegate() behave:
 *                            ok          (default) return a delegate whose Prepare claims no node, so the
 *                                        interpreter runs every op on the CPU (an _edgetpu model then fails
 *                                        with "unresolved custom op", as without a delegate)
 *                            fail        call report_error(FAKE_EDGETPU_ERROR) and return NULL
 *                            null        return NULL without reporting anything
 *                            crash       SIGSEGV
 *                            hang        never return
 *   FAKE_EDGETPU_ERROR     text given to report_error in delegate mode `fail`.
 *                          Default: "Failed to open device: No Edge TPU device found"
 *   FAKE_EDGETPU_STDERR    if set, printed on stderr by every API call (tests stderr capture).
 *
 * Compile-time options (strings embedded in the binary, as in the real builds; coral-facts §1.3):
 *   -DFAKE_PERFORMANCE_DIRECT      embeds "PERFORMANCE=DIRECT"    (libedgetpu1-max build)
 *   -DFAKE_PERFORMANCE_THROTTLED   embeds "PERFORMANCE=THROTTLED" (libedgetpu1-std build)
 *   -DFAKE_CL_NUMBER='"385816442"' embeds "CL_NUMBER=385816442"
 *
 * Build: gcc -shared -fPIC -O1 -o libedgetpu.so.1 fake_libedgetpu.c   (tests/helpers_hw.py does this)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#if defined(FAKE_PERFORMANCE_DIRECT)
__attribute__((used)) static const char fake_performance[] = "PERFORMANCE=DIRECT";
#elif defined(FAKE_PERFORMANCE_THROTTLED)
__attribute__((used)) static const char fake_performance[] = "PERFORMANCE=THROTTLED";
#endif
#if defined(FAKE_CL_NUMBER)
__attribute__((used)) static const char fake_cl_number[] = "CL_NUMBER=" FAKE_CL_NUMBER;
#endif

enum edgetpu_device_type { EDGETPU_APEX_PCI = 0, EDGETPU_APEX_USB = 1 };

struct edgetpu_device {
  enum edgetpu_device_type type;
  const char* path;
};

struct edgetpu_option {
  const char* name;
  const char* value;
};

/* Layout-compatible with TfLiteDelegate (tensorflow/lite/c/common.h), with room for later fields. */
typedef struct FakeDelegate {
  void* data_;
  int (*Prepare)(void* context, struct FakeDelegate* delegate);
  int (*CopyFromBufferHandle)(void* context, struct FakeDelegate* delegate, int handle, void* tensor);
  int (*CopyToBufferHandle)(void* context, struct FakeDelegate* delegate, int handle, void* tensor);
  void (*FreeBufferHandle)(void* context, struct FakeDelegate* delegate, int* handle);
  int64_t flags;
  void* opaque_delegate_builder;
  void* reserved[8];
} FakeDelegate;

static const char kDefaultVersion[] =
    "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)";

static const char* env_or(const char* name, const char* fallback) {
  const char* value = getenv(name);
  return (value && *value) ? value : fallback;
}

static int env_is(const char* name, const char* wanted) {
  const char* value = getenv(name);
  return value && strcmp(value, wanted) == 0;
}

static void chatter(void) {
  const char* text = getenv("FAKE_EDGETPU_STDERR");
  if (text) fprintf(stderr, "%s\n", text);
}

static void crash(void) {
  fflush(stdout);
  fflush(stderr);
  *(volatile int*)0 = 1; /* a real SIGSEGV, as a broken runtime gives */
  raise(SIGSEGV);
}

static void illegal_instruction(void) {
  fflush(stdout);
  fflush(stderr);
  __builtin_trap(); /* an instruction the CPU rejects: SIGILL (ud2 on x86, udf on ARM) */
}

static void hang(void) {
  for (;;) sleep(60);
}

__attribute__((constructor)) static void fake_on_load(void) {
  if (env_is("FAKE_EDGETPU_MODE", "crash-load")) crash();
  if (env_is("FAKE_EDGETPU_MODE", "sigill-load")) illegal_instruction();
}

EXPORT const char* edgetpu_version(void) {
  chatter();
  if (env_is("FAKE_EDGETPU_MODE", "crash")) crash();
  if (env_is("FAKE_EDGETPU_MODE", "hang")) hang();
  if (env_is("FAKE_EDGETPU_MODE", "fail")) return NULL;
  return env_or("FAKE_EDGETPU_VERSION", kDefaultVersion);
}

EXPORT struct edgetpu_device* edgetpu_list_devices(size_t* num_devices) {
  chatter();
  if (env_is("FAKE_EDGETPU_MODE", "crash-list")) crash();
  if (env_is("FAKE_EDGETPU_MODE", "hang-list")) hang();
  *num_devices = 0;
  if (env_is("FAKE_EDGETPU_MODE", "fail")) {
    /* As Google's prebuilt runtime prints it (log level and line only, no file name; checked against the real
     * eel2 runtime at edgetpu_verbosity(10), tests/test_real_runtime.py); the open-source build prints
     * "I driver/driver_factory_default.cc:31] ..." (google-coral/edgetpu#629). */
    fprintf(stderr, "I :31] Failed to open /sys/class/apex: No such file or directory\n");
    return NULL;
  }
  const char* spec = getenv("FAKE_EDGETPU_DEVICES");
  if (!spec || !*spec) return NULL;

  /* One block: the array, then the path strings (as the real implementation lays it out). */
  size_t count = 1;
  for (const char* p = spec; *p; ++p) count += (*p == ',');
  size_t size = count * sizeof(struct edgetpu_device) + strlen(spec) + 1;
  char* memory = (char*)calloc(1, size);
  if (!memory) return NULL;
  struct edgetpu_device* devs = (struct edgetpu_device*)memory;
  char* paths = memory + count * sizeof(struct edgetpu_device);
  strcpy(paths, spec);

  size_t n = 0;
  char* save = NULL;
  for (char* item = strtok_r(paths, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char* colon = strchr(item, ':');
    if (!colon) continue;
    *colon = '\0';
    devs[n].type = strcmp(item, "pci") == 0 ? EDGETPU_APEX_PCI : EDGETPU_APEX_USB;
    devs[n].path = colon + 1;
    ++n;
  }
  *num_devices = n;
  if (n == 0) {
    free(memory);
    return NULL;
  }
  return devs;
}

EXPORT void edgetpu_free_devices(struct edgetpu_device* dev) { free(dev); }

static int fake_prepare(void* context, FakeDelegate* delegate) {
  (void)context;
  (void)delegate;
  return 0; /* kTfLiteOk: claims no node */
}

static FakeDelegate* make_delegate(void (*report_error)(const char*)) {
  chatter();
  if (env_is("FAKE_EDGETPU_DELEGATE", "crash")) crash();
  if (env_is("FAKE_EDGETPU_DELEGATE", "hang")) hang();
  if (env_is("FAKE_EDGETPU_DELEGATE", "null")) return NULL;
  if (env_is("FAKE_EDGETPU_DELEGATE", "fail")) {
    if (report_error)
      report_error(env_or("FAKE_EDGETPU_ERROR", "Failed to open device: No Edge TPU device found"));
    return NULL;
  }
  FakeDelegate* delegate = (FakeDelegate*)calloc(1, sizeof(FakeDelegate));
  if (delegate) delegate->Prepare = fake_prepare;
  return delegate;
}

EXPORT void* edgetpu_create_delegate(enum edgetpu_device_type type, const char* name,
                                     const struct edgetpu_option* options, size_t num_options) {
  (void)type;
  (void)name;
  (void)options;
  (void)num_options;
  return make_delegate(NULL);
}

EXPORT void edgetpu_free_delegate(void* delegate) { free(delegate); }

static int verbosity_level = 0;

EXPORT void edgetpu_verbosity(int verbosity) { verbosity_level = verbosity; }

EXPORT void* tflite_plugin_create_delegate(char** options_keys, char** options_values, size_t num_options,
                                           void (*report_error)(const char*)) {
  (void)options_keys;
  (void)options_values;
  (void)num_options;
  return make_delegate(report_error);
}

EXPORT void tflite_plugin_destroy_delegate(void* delegate) { free(delegate); }
