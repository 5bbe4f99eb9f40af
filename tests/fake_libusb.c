/* A fake libusb-1.0.so.0 with one scriptable Coral USB Accelerator, for driving Google's REAL prebuilt
 * libedgetpu (../shared/runtimes) in tests. Built at test time:
 *     gcc -shared -fPIC -Wl,-soname,libusb-1.0.so.0 -o DIR/libusb-1.0.so.0 fake_libusb.c -lpthread
 * and put first on LD_LIBRARY_PATH. It exports all 24 libusb functions the runtime imports (it is loaded
 * RTLD_NOW, so every one must exist).
 *
 * What the device does is what google-coral/libedgetpu's USB driver expects of it (driver/usb/
 * local_usb_device.cc, usb_driver.cc, usb_dfu_commands.cc, usb_ml_commands.cc, driver/beagle/):
 *   - device descriptor through GET_DESCRIPTOR (control 0x80/6), configuration descriptor with a DFU
 *     interface (class 0xFE subclass 1) and a DFU functional descriptor (transfer size 256) in the
 *     bootloader state 1a6e:089a;
 *   - DFU: DNLOAD (0x21/1) blocks, GETSTATUS (0xA1/3) -> dfuDNLOAD-IDLE (5) or dfuIDLE (2) after the
 *     zero-length block, UPLOAD (0xA1/2) gives back what was written; a port reset then re-enumerates the
 *     device as 18d1:9302 on the same bus and ports;
 *   - a register file behind vendor requests 0 (64-bit) and 1 (32-bit), read 0xC0, write 0x40, value = low
 *     16 bits of the offset, index = high 16 bits; scu_ctrl_3 (0x1a318) cur_pwr_state (bits 9:8) follows
 *     rg_force_sleep (bits 23:22): 3 -> 2 (sleep), else 0 (run), or the runtime polls forever;
 *   - asynchronous transfers complete in libusb_handle_events: bulk OUT at once, IN transfers stay pending
 *     until cancelled (or the scenario's output is queued).
 *
 * Scenario, from the environment (read at libusb_init):
 *   FAKE_USB_SCENARIO  none | ok | bootloader | denied | busy-open | busy-claim | usb2 | low | timeout | io |
 *                      unplug | stuck-bootloader | no-reenumerate | bad-readback | hang-open   (default ok)
 *   FAKE_USB_BUS       bus number (default 2)
 *   FAKE_USB_PORTS     port chain, e.g. "1" or "1.4.2" behind hubs (default 1)
 *   FAKE_USB_LOG       a file that gets one line per interesting call (opens, DFU bytes, resets)
 *   FAKE_USB_OUTPUT    a file: the bytes each inference answers on 0x81 (from its start every inference;
 *                      zeros past its end)
 *   FAKE_USB_OUTPUT_SIZE  the executable's padded output size (mobilenet_v1 1001 -> 1008, inat_bird 965 -> 968):
 *                      the completion event (16 bytes on 0x82, tag 4 = scalar core interrupt 0) is sent once
 *                      that many bytes went out; without it, as soon as the input has arrived. Parameter
 *                      caching (a request with parameters and no input) gets its own completion event.
 * Scenarios during a run: `unplug-mid-run` drops off the bus when the input activations arrive (every transfer
 * then ends LIBUSB_TRANSFER_NO_DEVICE), `silent` takes the input and never answers.
 *
 * Bulk OUT on 0x01 is a stream of 8-byte headers {u32 length, u8 tag} each followed by `length` bytes of data
 * (tags: 0 instructions, 1 input activations, 2 parameters; usb_ml_commands.cc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LIBUSB_ERROR_IO -1
#define LIBUSB_ERROR_ACCESS -3
#define LIBUSB_ERROR_NO_DEVICE -4
#define LIBUSB_ERROR_NOT_FOUND -5
#define LIBUSB_ERROR_BUSY -6
#define LIBUSB_ERROR_TIMEOUT -7
#define LIBUSB_ERROR_PIPE -9
#define LIBUSB_SPEED_LOW 1
#define LIBUSB_SPEED_HIGH 3
#define LIBUSB_SPEED_SUPER 4
#define LIBUSB_TRANSFER_COMPLETED 0
#define LIBUSB_TRANSFER_CANCELLED 3
#define LIBUSB_TRANSFER_NO_DEVICE 5
#define LIBUSB_TRANSFER_FREE_TRANSFER 4

struct libusb_device_descriptor {
    uint8_t bLength, bDescriptorType;
    uint16_t bcdUSB;
    uint8_t bDeviceClass, bDeviceSubClass, bDeviceProtocol, bMaxPacketSize0;
    uint16_t idVendor, idProduct, bcdDevice;
    uint8_t iManufacturer, iProduct, iSerialNumber, bNumConfigurations;
};

struct libusb_transfer;
typedef void (*libusb_transfer_cb_fn)(struct libusb_transfer *);
struct libusb_transfer {
    void *dev_handle;
    uint8_t flags;
    unsigned char endpoint;
    unsigned char type;
    unsigned int timeout;
    int status;
    int length;
    int actual_length;
    libusb_transfer_cb_fn callback;
    void *user_data;
    unsigned char *buffer;
    int num_iso_packets;
    struct { unsigned int length, actual_length; int status; } iso_packet_desc[0];
};

typedef struct libusb_context { int unused; } libusb_context;
typedef struct libusb_device {
    int is_coral;        /* 0: the root hub */
    int bus;
    uint8_t ports[7];
    int depth;
} libusb_device;
typedef struct libusb_device_handle { libusb_device *dev; } libusb_device_handle;

/* --- the scenario and the device state ---------------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int loaded;
static char scenario[64] = "ok";
static int app_mode;          /* 1: 18d1:9302, 0: bootloader 1a6e:089a */
static int present = 1;       /* on the bus at all */
static int dfu_state = 2;     /* dfuIDLE */
static int resets;
static unsigned char *firmware;
static size_t firmware_len;
static libusb_device hub_dev, coral_dev;
static libusb_device *device_list_storage[3];

#define NREGS 512
static uint32_t reg_addr[NREGS];
static uint64_t reg_val[NREGS];
static int nregs;

#define NPENDING 256
static struct libusb_transfer *pending[NPENDING];   /* submitted, not yet completed */
static int npending;

/* the run */
static size_t out_remaining;     /* data bytes still expected after the last header */
static int out_tag = -1;
static int inference_ready;      /* input activations received: output may go out */
static size_t output_sent, output_size;
static unsigned char *output_bytes;
static size_t output_len;
static int event_due, inferences;

static int is(const char *name) { return strcmp(scenario, name) == 0; }

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    const char *path = getenv("FAKE_USB_LOG");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static void load_scenario(void) {
    if (loaded) return;
    loaded = 1;
    const char *s = getenv("FAKE_USB_SCENARIO");
    if (s && *s) snprintf(scenario, sizeof scenario, "%s", s);
    app_mode = !(is("bootloader") || is("stuck-bootloader") || is("no-reenumerate") || is("bad-readback"));
    present = !is("none");
    const char *bus = getenv("FAKE_USB_BUS");
    coral_dev.is_coral = 1;
    coral_dev.bus = bus && *bus ? atoi(bus) : 2;
    const char *ports = getenv("FAKE_USB_PORTS");
    if (!ports || !*ports) ports = "1";
    char copy[64];
    snprintf(copy, sizeof copy, "%s", ports);
    for (char *tok = strtok(copy, "."); tok && coral_dev.depth < 7; tok = strtok(NULL, "."))
        coral_dev.ports[coral_dev.depth++] = (uint8_t)atoi(tok);
    hub_dev.is_coral = 0;
    hub_dev.bus = coral_dev.bus;
    hub_dev.depth = 0;
    const char *size = getenv("FAKE_USB_OUTPUT_SIZE");
    output_size = size && *size ? (size_t)strtoul(size, NULL, 10) : 0;
    const char *out = getenv("FAKE_USB_OUTPUT");
    if (out && *out) {
        FILE *f = fopen(out, "rb");
        if (f) {
            output_bytes = malloc(1 << 20);
            output_len = fread(output_bytes, 1, 1 << 20, f);
            fclose(f);
        }
    }
    /* Reset values the runtime reads before it writes (beagle registers: scu_ctrl_3 = 0x80050410). */
    reg_addr[0] = 0x1a318;
    reg_val[0] = 0x80050410ULL;
    nregs = 1;
}

static uint64_t reg_read(uint32_t addr) {
    for (int i = 0; i < nregs; i++)
        if (reg_addr[i] == addr) return reg_val[i];
    return 0;
}

static void reg_write(uint32_t addr, uint64_t value) {
    if (addr == 0x1a318) {   /* scu_ctrl_3: cur_pwr_state (9:8) follows rg_force_sleep (23:22) */
        uint64_t force = (value >> 22) & 3;
        value &= ~(3ULL << 8);
        value |= (force == 3 ? 2ULL : 0ULL) << 8;
    }
    for (int i = 0; i < nregs; i++)
        if (reg_addr[i] == addr) { reg_val[i] = value; return; }
    if (nregs < NREGS) { reg_addr[nregs] = addr; reg_val[nregs] = value; nregs++; }
}

/* --- context and enumeration ----------------------------------------------------------------------------- */

int libusb_init(libusb_context **ctx) {
    pthread_mutex_lock(&lock);
    load_scenario();
    pthread_mutex_unlock(&lock);
    if (ctx) *ctx = calloc(1, sizeof(libusb_context));
    return 0;
}

void libusb_exit(libusb_context *ctx) { free(ctx); }

ssize_t libusb_get_device_list(libusb_context *ctx, libusb_device ***list) {
    (void)ctx;
    pthread_mutex_lock(&lock);
    load_scenario();
    int n = 0;
    device_list_storage[n++] = &hub_dev;
    if (present) device_list_storage[n++] = &coral_dev;
    device_list_storage[n] = NULL;
    pthread_mutex_unlock(&lock);
    libusb_device **copy = calloc((size_t)n + 1, sizeof(libusb_device *));
    memcpy(copy, device_list_storage, sizeof(libusb_device *) * (size_t)n);
    *list = copy;
    return n;
}

void libusb_free_device_list(libusb_device **list, int unref) { (void)unref; free(list); }

static void fill_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *d) {
    memset(d, 0, sizeof *d);
    d->bLength = 18;
    d->bDescriptorType = 1;
    d->bMaxPacketSize0 = 9;
    d->bNumConfigurations = 1;
    if (!dev->is_coral) {
        d->bcdUSB = 0x0300; d->bDeviceClass = 9; d->idVendor = 0x1d6b; d->idProduct = 0x0003;
    } else if (app_mode) {
        d->bcdUSB = 0x0320; d->idVendor = 0x18d1; d->idProduct = 0x9302; d->bcdDevice = 0x0100;
    } else {
        d->bcdUSB = 0x0320; d->idVendor = 0x1a6e; d->idProduct = 0x089a; d->bcdDevice = 0x0100;
    }
}

int libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc) {
    pthread_mutex_lock(&lock);
    fill_device_descriptor(dev, desc);
    pthread_mutex_unlock(&lock);
    return 0;
}

uint8_t libusb_get_bus_number(libusb_device *dev) { return (uint8_t)dev->bus; }
uint8_t libusb_get_port_number(libusb_device *dev) { return dev->depth ? dev->ports[dev->depth - 1] : 0; }

int libusb_get_port_numbers(libusb_device *dev, uint8_t *ports, int len) {
    if (dev->depth > len) return -11; /* LIBUSB_ERROR_OVERFLOW */
    memcpy(ports, dev->ports, (size_t)dev->depth);
    return dev->depth;
}

int libusb_get_device_speed(libusb_device *dev) {
    if (!dev->is_coral) return LIBUSB_SPEED_SUPER;
    if (is("usb2")) return LIBUSB_SPEED_HIGH;
    if (is("low")) return LIBUSB_SPEED_LOW;
    return LIBUSB_SPEED_SUPER;
}

libusb_device *libusb_get_device(libusb_device_handle *handle) { return handle->dev; }

/* --- open, close, interfaces ----------------------------------------------------------------------------- */

int libusb_open(libusb_device *dev, libusb_device_handle **handle) {
    pthread_mutex_lock(&lock);
    int coral = dev->is_coral, there = present;
    pthread_mutex_unlock(&lock);
    logf_("open %s", coral ? (app_mode ? "18d1:9302" : "1a6e:089a") : "hub");
    if (coral && !there) return LIBUSB_ERROR_NO_DEVICE;
    if (coral && is("denied")) return LIBUSB_ERROR_ACCESS;
    if (coral && is("busy-open")) return LIBUSB_ERROR_BUSY;
    if (coral && is("hang-open")) for (;;) pause();   /* a device (or kernel) that never answers */
    *handle = calloc(1, sizeof(libusb_device_handle));
    (*handle)->dev = dev;
    return 0;
}

void libusb_close(libusb_device_handle *handle) {
    logf_("close");
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    free(handle);
}

int libusb_set_configuration(libusb_device_handle *handle, int configuration) {
    (void)handle; (void)configuration;
    return 0;
}

int libusb_claim_interface(libusb_device_handle *handle, int number) {
    (void)handle;
    logf_("claim %d", number);
    if (is("busy-claim")) return LIBUSB_ERROR_BUSY;
    return 0;
}

int libusb_release_interface(libusb_device_handle *handle, int number) {
    (void)handle; (void)number;
    return 0;
}

int libusb_reset_device(libusb_device_handle *handle) {
    (void)handle;
    pthread_mutex_lock(&lock);
    resets++;
    int was_app = app_mode;
    if (!app_mode && firmware_len > 0) {
        if (is("no-reenumerate")) present = 0;          /* never comes back on its bus and port */
        else if (!is("stuck-bootloader")) app_mode = 1; /* the firmware runs: 18d1:9302 */
    }
    pthread_mutex_unlock(&lock);
    logf_("reset %d (%s -> %s)", resets, was_app ? "18d1:9302" : "1a6e:089a",
          !present ? "gone" : app_mode ? "18d1:9302" : "1a6e:089a");
    return 0;
}

/* --- control transfers: descriptors, DFU, registers ---------------------------------------------------- */

static int config_descriptor(unsigned char *data, uint16_t length) {
    static const unsigned char app[] = {
        9, 2, 9 + 9 + 7 * 4, 0, 1, 1, 0, 0x80, 250,
        9, 4, 0, 0, 4, 0xff, 0xff, 0xff, 0,
        7, 5, 0x01, 2, 0x00, 0x04, 0, 7, 5, 0x81, 2, 0x00, 0x04, 0,
        7, 5, 0x82, 2, 0x00, 0x04, 0, 7, 5, 0x83, 3, 0x04, 0x00, 4,
    };
    static const unsigned char dfu[] = {
        9, 2, 9 + 9 + 9, 0, 1, 1, 0, 0x80, 250,
        9, 4, 0, 0, 0, 0xfe, 1, 2, 0,
        9, 0x21, 0x0b, 0xe8, 0x03, 0x00, 0x01, 0x10, 0x01,   /* can up/download, will detach, 256 bytes */
    };
    const unsigned char *src = app_mode ? app : dfu;
    size_t n = app_mode ? sizeof app : sizeof dfu;
    if (n > length) n = length;
    memcpy(data, src, n);
    return (int)n;
}

int libusb_control_transfer(libusb_device_handle *handle, uint8_t type, uint8_t request, uint16_t value,
                            uint16_t index, unsigned char *data, uint16_t length, unsigned int timeout) {
    (void)timeout;
    int result = 0;
    pthread_mutex_lock(&lock);
    if (!present || is("unplug")) { result = LIBUSB_ERROR_NO_DEVICE; goto out; }
    if (is("timeout")) { result = LIBUSB_ERROR_TIMEOUT; goto out; }
    if (is("io")) { result = LIBUSB_ERROR_IO; goto out; }
    if (type == 0x80 && request == 6) {                         /* GET_DESCRIPTOR */
        if ((value >> 8) == 1) {
            struct libusb_device_descriptor d;
            fill_device_descriptor(handle->dev, &d);
            result = length < 18 ? length : 18;
            memcpy(data, &d, (size_t)result);
        } else if ((value >> 8) == 2) {
            result = config_descriptor(data, length);
        } else {
            result = LIBUSB_ERROR_PIPE;
        }
    } else if ((type == 0xC0 || type == 0x40) && request <= 1) { /* registers: 0 = 64-bit, 1 = 32-bit */
        uint32_t addr = ((uint32_t)index << 16) | value;
        if (!app_mode) { result = LIBUSB_ERROR_PIPE; goto out; } /* the bootloader has no register file */
        if (type == 0xC0) {
            uint64_t v = reg_read(addr);
            memcpy(data, &v, length > 8 ? 8 : length);
        } else {
            uint64_t v = 0;
            memcpy(&v, data, length > 8 ? 8 : length);
            if (request == 1) v &= 0xffffffffULL;
            reg_write(addr, v);
        }
        result = length;
    } else if (type == 0x21 && request == 1) {                   /* DFU_DNLOAD */
        if (length) {
            firmware = realloc(firmware, firmware_len + length);
            memcpy(firmware + firmware_len, data, length);
            firmware_len += length;
            dfu_state = 5;
        } else {
            dfu_state = 2;
            logf_("dfu downloaded %zu bytes", firmware_len);
        }
        result = length;
    } else if (type == 0xA1 && request == 3) {                   /* DFU_GETSTATUS */
        unsigned char status[6] = {0, 0, 0, 0, (unsigned char)dfu_state, 0};
        result = length < 6 ? length : 6;
        memcpy(data, status, (size_t)result);
    } else if (type == 0xA1 && request == 5) {                   /* DFU_GETSTATE */
        data[0] = (unsigned char)dfu_state;
        result = 1;
    } else if (type == 0xA1 && request == 2) {                   /* DFU_UPLOAD: what was written */
        size_t offset = (size_t)value * 256;
        size_t n = offset < firmware_len ? firmware_len - offset : 0;
        if (n > length) n = length;
        if (n) memcpy(data, firmware + offset, n);
        if (n && is("bad-readback")) data[0] ^= 0xff;
        result = (int)n;
    } else {
        result = (type & 0x80) ? 0 : length;                    /* DFU detach, clear status, others */
    }
out:
    pthread_mutex_unlock(&lock);
    return result;
}

/* --- bulk and interrupt transfers -------------------------------------------------------------------- */

int libusb_bulk_transfer(libusb_device_handle *handle, unsigned char endpoint, unsigned char *data, int length,
                         int *transferred, unsigned int timeout) {
    (void)handle; (void)data; (void)timeout;
    if (!present || is("unplug")) return LIBUSB_ERROR_NO_DEVICE;
    if (is("timeout")) return LIBUSB_ERROR_TIMEOUT;
    if (is("io")) return LIBUSB_ERROR_IO;
    if (endpoint & 0x80) { *transferred = 0; return LIBUSB_ERROR_TIMEOUT; }
    *transferred = length;
    return 0;
}

int libusb_interrupt_transfer(libusb_device_handle *handle, unsigned char endpoint, unsigned char *data,
                              int length, int *transferred, unsigned int timeout) {
    (void)handle; (void)endpoint; (void)data; (void)length; (void)timeout;
    *transferred = 0;
    return LIBUSB_ERROR_TIMEOUT;
}

struct libusb_transfer *libusb_alloc_transfer(int iso_packets) {
    return calloc(1, sizeof(struct libusb_transfer) + (size_t)iso_packets * 12);
}

void libusb_free_transfer(struct libusb_transfer *transfer) { free(transfer); }

/* Called with the lock held: one bulk OUT transfer's bytes (a header or data). */
static void take_out(const unsigned char *data, size_t length) {
    if (out_remaining == 0) {
        if (length != 8) return;
        uint32_t len;
        memcpy(&len, data, 4);
        out_tag = data[4] & 0xF;
        out_remaining = len;
        logf_("header tag %d length %u", out_tag, len);
        if (out_tag == 1 && is("unplug-mid-run")) {
            present = 0;
            logf_("unplugged mid-run");
        }
        return;
    }
    out_remaining = length >= out_remaining ? 0 : out_remaining - length;
    if (out_remaining == 0 && out_tag == 2 && !is("silent")) {
        event_due++;   /* parameter caching (instructions + parameters) is a request of its own: done */
        logf_("parameters cached");
    }
    if (out_remaining == 0 && out_tag == 1 && !is("silent")) {
        inference_ready = 1;
        output_sent = 0;
        inferences++;
        if (output_size == 0) event_due++;
        logf_("inference %d", inferences);
    }
}

/* Called with the lock held: complete what the device can answer now. The completion event goes out on a
 * later call than the last output bytes (as on the wire: the scalar core's interrupt after the data). */
static void device_answers(void) {
    int event_now = event_due;
    for (int i = 0; i < npending; i++) {
        struct libusb_transfer *t = pending[i];
        if (t->status != -1) continue;
        if (!present) {
            t->status = LIBUSB_TRANSFER_NO_DEVICE;
            t->actual_length = 0;
        } else if (t->endpoint == 0x82 && event_now && t->length >= 16) {
            memset(t->buffer, 0, 16);
            t->buffer[12] = 4;   /* kInterrupt0: the scalar core is done */
            t->actual_length = 16;
            t->status = LIBUSB_TRANSFER_COMPLETED;
            event_due--;
            event_now = 0;
        }
    }
    for (int i = 0; i < npending && present; i++) {
        struct libusb_transfer *t = pending[i];
        if (t->status != -1 || t->endpoint != 0x81 || !inference_ready) continue;
        size_t n = (size_t)t->length;
        if (output_size && n > output_size - output_sent) n = output_size - output_sent;  /* short packet */
        for (size_t k = 0; k < n; k++)
            t->buffer[k] = output_sent + k < output_len ? output_bytes[output_sent + k] : 0;
        output_sent += n;
        t->actual_length = (int)n;
        t->status = LIBUSB_TRANSFER_COMPLETED;
        if (output_size && output_sent >= output_size) {
            inference_ready = 0;
            event_due++;
            break;
        }
    }
}

int libusb_submit_transfer(struct libusb_transfer *transfer) {
    pthread_mutex_lock(&lock);
    if (!present) { pthread_mutex_unlock(&lock); return LIBUSB_ERROR_NO_DEVICE; }
    transfer->status = -1;  /* in flight */
    if (getenv("FAKE_USB_TRACE")) logf_("submit ep 0x%02x len %d", transfer->endpoint, transfer->length);
    if (!(transfer->endpoint & 0x80)) {      /* OUT: the device takes it at once */
        take_out(transfer->buffer, (size_t)transfer->length);
        transfer->status = present ? LIBUSB_TRANSFER_COMPLETED : LIBUSB_TRANSFER_NO_DEVICE;
        transfer->actual_length = present ? transfer->length : 0;
    }
    if (npending < NPENDING) pending[npending++] = transfer;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return 0;
}

int libusb_cancel_transfer(struct libusb_transfer *transfer) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < npending; i++)
        if (pending[i] == transfer && transfer->status == -1) transfer->status = LIBUSB_TRANSFER_CANCELLED;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return 0;
}

int libusb_handle_events(libusb_context *ctx) {
    (void)ctx;
    struct libusb_transfer *done[NPENDING];
    int ndone = 0;
    pthread_mutex_lock(&lock);
    for (int round = 0; round < 2 && ndone == 0; round++) {
        device_answers();
        int keep = 0;
        for (int i = 0; i < npending; i++) {
            if (pending[i]->status != -1) done[ndone++] = pending[i];
            else pending[keep++] = pending[i];
        }
        npending = keep;
        if (ndone == 0 && round == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 20 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&changed, &lock, &until);
        }
    }
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < ndone; i++) {
        struct libusb_transfer *t = done[i];
        int free_it = t->flags & LIBUSB_TRANSFER_FREE_TRANSFER;
        if (t->callback) t->callback(t);
        if (free_it) free(t);
    }
    return 0;
}
