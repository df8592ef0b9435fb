# udebug: STAND-IN. OpenWrt's libudebug (github.com/openwrt/udebug: the
# udebug_ubus_* glue with which procd and netifd offer debug rings to
# udebugd) is not among the source archives. This is a library of our own
# with the same interface that never enables a ring: no udebugd ever asks,
# so nothing is lost but the debug rings. The ring buffers themselves are
# libubox's.
archive=""
deps="libubox ubus"
apt="gcc"
build() {
	mkdir -p "$DEST/usr/include" "$DEST/usr/lib"
	cat > "$DEST/usr/include/udebug.h" <<'H'
/* Stand-in for OpenWrt's libudebug interface (scripts/openwrt/recipes/udebug.sh). */
#ifndef TRUSTJOIN_UDEBUG_STANDIN_H
#define TRUSTJOIN_UDEBUG_STANDIN_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <libubox/udebug.h>
#include <libubox/blob.h>

struct ubus_context;
struct udebug_ubus;
typedef void (*udebug_config_cb)(struct udebug_ubus *ctx, struct blob_attr *data, bool enabled);

struct udebug_ubus {
	struct ubus_context *ubus;
	const char *service;
	udebug_config_cb cb;
};

struct udebug_ubus_ring {
	struct udebug_buf *buf;
	const struct udebug_buf_meta *meta;
	unsigned int default_entries;
	unsigned int default_size;
};

void udebug_ubus_init(struct udebug_ubus *ctx, struct ubus_context *ubus,
		      const char *service, udebug_config_cb cb);
void udebug_ubus_free(struct udebug_ubus *ctx);
void udebug_ubus_ring_init(struct udebug *ud, struct udebug_ubus_ring *ring);
void udebug_ubus_apply_config(struct udebug *ud, struct udebug_ubus_ring *rings, int n,
			      struct blob_attr *data, bool enabled);
void udebug_netlink_msg(struct udebug_buf *buf, uint16_t proto, const void *data, size_t len);
#endif
H
	cat > udebug-standin.c <<'C'
#include <udebug.h>

/* No udebugd asks for rings: remember the caller, enable nothing. */
void udebug_ubus_init(struct udebug_ubus *ctx, struct ubus_context *ubus,
		      const char *service, udebug_config_cb cb)
{
	ctx->ubus = ubus;
	ctx->service = service;
	ctx->cb = cb;
}

void udebug_ubus_free(struct udebug_ubus *ctx)
{
	ctx->ubus = NULL;
}

void udebug_ubus_ring_init(struct udebug *ud, struct udebug_ubus_ring *ring)
{
	(void)ud;
	(void)ring;
}

void udebug_ubus_apply_config(struct udebug *ud, struct udebug_ubus_ring *rings, int n,
			      struct blob_attr *data, bool enabled)
{
	(void)ud; (void)rings; (void)n; (void)data; (void)enabled;
}

void udebug_netlink_msg(struct udebug_buf *buf, uint16_t proto, const void *data, size_t len)
{
	(void)buf; (void)proto; (void)data; (void)len;
}
C
	gcc $OWRT_CFLAGS -Wall -Werror -fPIC -shared -I"$DEST/usr/include" \
		-o "$DEST/usr/lib/libudebug.so" udebug-standin.c -L"$DEST/usr/lib" -lubox
}
