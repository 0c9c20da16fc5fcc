// SPDX-License-Identifier: MIT
/*
 * A libbpf loader for agent.bpf.c, in two roles:
 *
 *   agent run OBJ READY_FILE      the "old" agent: loads OBJ, fills its maps,
 *                                 attaches its programs, produces ring buffer
 *                                 events (consuming only some of them through
 *                                 epoll), writes READY_FILE and waits.
 *   agent reuse OBJ PIN_DIR       the "new" agent: opens OBJ with every map's
 *                                 pin path set to PIN_DIR/<name, '.' -> '_'>,
 *                                 as libbpf pins by name, loads it (libbpf
 *                                 reuses each pin if its type, sizes,
 *                                 max_entries, flags and map_extra match),
 *                                 prints one line per map and the global
 *                                 variables it sees, ticks once more, and exits.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

struct flow_key {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto, pad[3];
};

struct flow_stats {
	uint64_t packets, bytes;
	char comm[16];
};

struct lpm_v4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};

/* struct bpf_spin_lock is 4 bytes, the value 8-aligned after it. */
struct locked_counter {
	uint32_t lock;
	uint32_t pad;
	uint64_t value;
};

/* struct bpf_timer is 16 bytes. */
struct timed {
	uint64_t timer[2];
	uint64_t deadline;
};

static int die(const char *what)
{
	fprintf(stderr, "agent: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The uprobe target: what the agent's program counts. */
__attribute__((noinline, used)) int agent_tick(int arg)
{
	__asm__ __volatile__("" : : "r"(arg) : "memory");
	return arg;
}

static struct bpf_map *map_of(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	if (!m) {
		fprintf(stderr, "agent: no map %s\n", name);
		exit(1);
	}
	return m;
}

/* The internal map (.data, .bss, .rodata) whose libbpf name ends with `suffix`. */
static struct bpf_map *internal_map(struct bpf_object *obj, const char *suffix)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t ln = strlen(n), ls = strlen(suffix);

		if (ln >= ls && strcmp(n + ln - ls, suffix) == 0)
			return m;
	}
	fprintf(stderr, "agent: no %s map\n", suffix);
	exit(1);
}

static void update(struct bpf_object *obj, const char *name, const void *key, const void *value)
{
	if (bpf_map__update_elem(map_of(obj, name), key, bpf_map__key_size(map_of(obj, name)), value,
				 bpf_map__value_size(map_of(obj, name)), BPF_ANY))
		die(name);
}

static int events_seen;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	events_seen++;
	return 0;
}

static struct bpf_link *attach_tick(struct bpf_object *obj)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "agent_tick");
	struct bpf_link *link;

	if (n < 0)
		die("readlink /proc/self/exe");
	exe[n] = 0;
	link = bpf_program__attach_uprobe_opts(bpf_object__find_program_by_name(obj, "on_tick"), 0, exe, 0, &opts);
	if (!link)
		die("attach uprobe");
	return link;
}

static struct bpf_object *open_obj(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);

	if (!obj)
		die("open object");
	return obj;
}

static int run(const char *path, const char *ready)
{
	struct bpf_object *obj = open_obj(path);
	uint32_t mult = 3;
	int ncpus = libbpf_num_possible_cpus();
	FILE *f;
	char tmp[PATH_MAX];

	/* .rodata is set before load, as a skeleton's rodata fields are. */
	if (bpf_map__set_initial_value(internal_map(obj, ".rodata"), &mult, sizeof(mult)))
		die("set .rodata");
	if (bpf_object__load(obj))
		die("load object");

	for (uint32_t i = 1; i <= 3; i++) {
		struct flow_key k = { .saddr = 0x0a000001 + i, .daddr = 0xc0a80101, .sport = 1000 + i, .dport = 443, .proto = 6 };
		struct flow_stats v = { .packets = i * 10, .bytes = i * 1500 };

		snprintf(v.comm, sizeof(v.comm), "curl-%u", i);
		update(obj, "flows", &k, &v);
	}
	for (uint32_t i = 1; i <= 2; i++) {
		uint64_t v = i * 10;

		update(obj, "counters", &i, &v);
	}
	for (uint32_t k = 1; k <= 3; k++) {
		uint64_t v[ncpus];

		for (int c = 0; c < ncpus; c++)
			v[c] = (uint64_t)c * 100 + k;
		if (bpf_map__update_elem(map_of(obj, "percpu_hits"), &k, sizeof(k), v, sizeof(uint64_t) * ncpus, BPF_ANY))
			die("percpu_hits");
	}
	for (uint64_t k = 1000; k < 1005; k++) {
		uint32_t v = (uint32_t)(k - 999);

		update(obj, "recent", &k, &v);
	}
	{
		struct lpm_v4 a = { 8, { 10, 0, 0, 0 } }, b = { 24, { 192, 168, 1, 0 } };
		uint32_t va = 1, vb = 2;

		update(obj, "routes", &a, &va);
		update(obj, "routes", &b, &vb);
	}
	{
		uint32_t k0 = 0, k3 = 3, k1 = 1, k5 = 5;
		uint64_t a = 111, b = 444;
		struct locked_counter lc = { .value = 77 };
		struct timed t = { .deadline = 999 };
		uint32_t conns = 50;

		update(obj, "inner_a", &k0, &a);
		update(obj, "inner_b", &k3, &b);
		update(obj, "locked", &k1, &lc);
		update(obj, "timers", &k0, &t);
		update(obj, "connection_tracking_table", &k5, &conns);
	}

	struct bpf_link *tick = attach_tick(obj);
	struct bpf_link *tp = bpf_program__attach(bpf_object__find_program_by_name(obj, "on_free"));
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map_of(obj, "events")), on_event, NULL, NULL);

	if (!tp)
		die("attach raw tracepoint");
	if (!rb)
		die("ring buffer");
	/* Two events consumed through epoll, three left in the ring. */
	agent_tick(1);
	agent_tick(2);
	while (events_seen < 2)
		if (ring_buffer__poll(rb, 1000) < 0)
			die("ring_buffer__poll");
	agent_tick(3);
	agent_tick(4);
	agent_tick(5);

	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = fopen(tmp, "w");
	if (!f)
		die("ready file");
	fprintf(f, "pid=%d\n", getpid());
	{
		struct bpf_map *m;

		bpf_object__for_each_map(m, obj) {
			struct bpf_map_info info = {};
			uint32_t len = sizeof(info);

			if (bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len))
				die("map info");
			fprintf(f, "map %s %u\n", bpf_map__name(m), info.id);
		}
	}
	fclose(f);
	if (rename(tmp, ready))
		die("rename ready file");
	for (;;)
		pause();
	(void)tick;
	return 0;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Global variable `name` of data section `sec`, found through the object's BTF (libbpf fills in its offsets at load). */
static uint64_t global(struct bpf_object *obj, const char *sec, const char *name)
{
	struct btf *btf = bpf_object__btf(obj);
	int id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	struct bpf_map *m = internal_map(obj, sec);
	uint32_t zero = 0;
	unsigned char value[4096] = {};
	const struct btf_type *t;
	const struct btf_var_secinfo *v;

	if (id < 0 || bpf_map__value_size(m) > sizeof(value))
		die(sec);
	if (bpf_map_lookup_elem(bpf_map__fd(m), &zero, value))
		die("lookup global data");
	t = btf__type_by_id(btf, id);
	v = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, v++) {
		uint64_t x = 0;

		if (strcmp(btf__name_by_offset(btf, btf__type_by_id(btf, v->type)->name_off), name) != 0)
			continue;
		memcpy(&x, value + v->offset, v->size < 8 ? v->size : 8);
		return x;
	}
	fprintf(stderr, "agent: no variable %s in %s\n", name, sec);
	exit(1);
}

static int reuse(const char *path, const char *dir)
{
	struct bpf_object *obj = open_obj(path);
	struct bpf_map *m;
	char pin[PATH_MAX];

	bpf_object__for_each_map(m, obj) {
		int n = snprintf(pin, sizeof(pin), "%s/%s", dir, bpf_map__name(m));

		/* libbpf's pin-by-name rule: bpffs refuses '.', so every '.' becomes '_'. */
		for (char *p = pin + strlen(dir) + 1; p < pin + n; p++)
			if (*p == '.')
				*p = '_';
		if (bpf_map__set_pin_path(m, pin))
			die("set pin path");
	}
	if (bpf_object__load(obj))
		die("load object reusing the pins");
	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info mine = {}, pinned = {};
		uint32_t len = sizeof(mine);
		int pfd = bpf_obj_get(bpf_map__pin_path(m));

		if (pfd < 0)
			die(bpf_map__pin_path(m));
		if (bpf_obj_get_info_by_fd(bpf_map__fd(m), &mine, &len))
			die("map info");
		len = sizeof(pinned);
		if (bpf_obj_get_info_by_fd(pfd, &pinned, &len))
			die("pinned map info");
		printf("map %s %s id %u %s\n", bpf_map__name(m), bpf_map__pin_path(m), mine.id,
		       mine.id == pinned.id ? "reused" : "created");
		close(pfd);
	}
	{
		/* The restored table came back empty; libbpf filled its declared slot with its own new program. */
		uint32_t slot = 2, id = 0;
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int pfd;

		if (bpf_map_lookup_elem(bpf_map__fd(map_of(obj, "jumps")), &slot, &id))
			die("lookup jumps[2]");
		pfd = bpf_prog_get_fd_by_id(id);
		if (pfd < 0 || bpf_obj_get_info_by_fd(pfd, &info, &len))
			die("program in jumps[2]");
		struct bpf_prog_info own = {};
		uint32_t own_len = sizeof(own);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(bpf_object__find_program_by_name(obj, "tail_count")), &own, &own_len))
			die("tail_count info");
		printf("jumps[2] %s %s\n", info.name, id == own.id ? "this loader's" : "another");
		close(pfd);
	}
	printf("total_calls %llu\n", (unsigned long long)global(obj, ".data", "total_calls"));
	printf("last_arg %llu\n", (unsigned long long)global(obj, ".bss", "last_arg"));
	printf("multiplier %llu\n", (unsigned long long)global(obj, ".rodata", "multiplier"));
	if (btf__find_by_name(bpf_object__btf(obj), "upgrades") > 0)
		printf("upgrades %llu\n", (unsigned long long)global(obj, ".data", "upgrades"));
	{
		struct bpf_link *tick = attach_tick(obj);

		agent_tick(6);
		bpf_link__destroy(tick);
	}
	printf("total_calls after a tick %llu\n", (unsigned long long)global(obj, ".data", "total_calls"));
	{
		uint32_t key = 1;
		uint64_t tails = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(map_of(obj, "counters")), &key, &tails))
			die("lookup counters[1]");
		printf("tail calls after a tick %llu\n", (unsigned long long)tails);
	}
	fflush(stdout);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(silent);
	if (argc == 4 && strcmp(argv[1], "run") == 0)
		return run(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "reuse") == 0)
		return reuse(argv[2], argv[3]);
	fprintf(stderr, "usage: agent run OBJ READY_FILE | agent reuse OBJ PIN_DIR\n");
	return 2;
}
