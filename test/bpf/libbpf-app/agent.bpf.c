// SPDX-License-Identifier: GPL-2.0
/*
 * A small "agent" BPF object as real eBPF applications build them: BTF-defined
 * maps of the common types, global data in .data/.bss/.rodata, a map-in-map,
 * a ring buffer, a spin lock and a timer, one program attached with a uprobe
 * (a perf_event link) and one with a raw tracepoint (a bpf link), and a
 * tail-call table (PROG_ARRAY) whose slot libbpf fills at load time.
 *
 * Built with -DAGENT_V2 it is the agent's next version, as upgrades change
 * maps: flows and counters hold more, flow_stats gains a counter in the
 * middle, the per-CPU hits a field, .data a variable. -DAGENT_NARROW shrinks counters' values,
 * -DAGENT_NEW_RODATA adds a read-only variable and -DAGENT_BIGGER_INNER
 * grows the maps tenants holds (what an upgrade cannot carry, or not yet).
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_stats {
	__u64 packets;
#ifdef AGENT_V2
	__u64 drops;
#endif
	__u64 bytes;
	char comm[16];
};

struct lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct locked_counter {
	struct bpf_spin_lock lock;
	__u64 value;
};

struct timed {
	struct bpf_timer timer;
	__u64 deadline;
};

struct event {
	__u32 seq;
	__u32 arg;
	__u64 total;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
#ifdef AGENT_V2
	__uint(max_entries, 4096);
#else
	__uint(max_entries, 1024);
#endif
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
#ifdef AGENT_V2
	__uint(max_entries, 16);
#else
	__uint(max_entries, 8);
#endif
	__type(key, __u32);
#ifdef AGENT_NARROW
	__type(value, __u32);
#else
	__type(value, __u64);
#endif
} counters SEC(".maps");

struct hit {
	__u64 count;
#ifdef AGENT_V2
	__u64 bytes;
#endif
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct hit);
} percpu_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u64);
	__type(value, __u32);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4);
	__type(value, __u32);
} routes SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
#ifdef AGENT_BIGGER_INNER
	__uint(max_entries, 8);
#else
	__uint(max_entries, 4);
#endif
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} tenants SEC(".maps") = {
	.values = { [1] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct locked_counter);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct timed);
} timers SEC(".maps");

/* Longer than the kernel's 15-character map names: libbpf pins it by its full name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} connection_tracking_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

/* A tail-call table, declared with its program as libbpf fills it when it loads the object. */
int tail_count(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [2] = (void *)&tail_count },
};

/* .data, .bss and .rodata: global variables. */
#ifdef AGENT_V2
__u64 upgrades = 1;
#endif
__u64 total_calls = 5;
__u32 last_arg;
const volatile __u32 multiplier = 1;
#ifdef AGENT_NEW_RODATA
const volatile __u32 divisor = 1;
#endif

SEC("uprobe")
int BPF_KPROBE(on_tick, int arg)
{
	__u32 key = 0;
	__u64 *c;
	struct event *e;

	total_calls++;
	last_arg = arg;
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		__sync_fetch_and_add(c, (__u64)arg * multiplier);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->seq = (__u32)total_calls;
	e->arg = arg;
	e->total = total_calls;
	bpf_ringbuf_submit(e, 0);
	bpf_tail_call(ctx, &jumps, 2);
	return 0;
}

/* Attached to a tracepoint that nothing in the tests fires often; it only reads. */
SEC("raw_tp/sched_process_free")
int on_free(void *ctx)
{
	__u32 key = 7;
	__u64 *c = bpf_map_lookup_elem(&counters, &key);

	return c ? 0 : 1;
}

/* Reached only through jumps[2]: counts the ticks in counters[1]. */
SEC("uprobe")
int tail_count(void *ctx)
{
	__u32 key = 1;
	__u64 *c = bpf_map_lookup_elem(&counters, &key);

	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}
