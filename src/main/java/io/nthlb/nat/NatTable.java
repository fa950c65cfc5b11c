package io.nthlb.nat;

import io.nthlb.rules.Chain;
import io.nthlb.rules.CounterView;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.Rule;
import io.nthlb.rules.RuleError;
import io.nthlb.rules.Ruleset;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The nat table at run time: compiled once from a {@link Ruleset}, it decides where each new connection
 * goes exactly as the kernel's PREROUTING walk would, and keeps the per-rule counters that walk moves.
 *
 * <p>The structure is immutable; the counters ({@code pkts}, {@code bytes}, nth positions) are the only
 * mutable state, and they are lock-free, so {@link #decide} may be called from any number of threads. (Decisions
 * that never vary are also kept once made: see {@link FlatProgram}.) A walk runs over the {@link FlatProgram}
 * laid out from the compiled chains, with a per-thread scratch space for its jump stack.
 * Only PREROUTING decides: the other built-in chains are compiled, so that their counters print, but never
 * walked.
 */
public final class NatTable {

    /** The chain that decides: the kernel runs nat PREROUTING on the first packet of a connection. */
    public static final String DECIDING_CHAIN = "PREROUTING";

    private final Ruleset ruleset;
    private final RandomSource random;
    private final ListenPlan listenPlan;
    private final ListenPlan udpListenPlan;
    private final RecentLists recent;
    /** The chains as a TCP connection is decided by them; their counters are the table's. */
    private final Protocol tcp;
    /**
     * The chains as a UDP flow is decided by them, sharing every counter (and the recent lists) with {@link #tcp}:
     * compiled with the table when it has UDP listeners, else on first use (by {@code simulate --proto udp}).
     */
    private volatile Protocol udp;

    /** The chains compiled for one IP protocol, and the program a walk for that protocol runs. */
    private static final class Protocol {
        final Map<String, CompiledChain> chains;
        final CompiledChain prerouting;
        final FlatProgram program;

        Protocol(Map<String, CompiledChain> chains, CompiledChain prerouting) {
            this.chains = chains;
            this.prerouting = prerouting;
            this.program = FlatProgram.of(prerouting);
        }
    }

    private NatTable(Ruleset ruleset, Protocol tcp, RandomSource random, RecentLists recent) {
        this.ruleset = ruleset;
        this.recent = recent;
        this.tcp = tcp;
        this.random = random;
        this.listenPlan = ListenPlan.of(ruleset, ProtocolMatch.TCP);
        this.udpListenPlan = ListenPlan.of(ruleset, ProtocolMatch.UDP);
        if (!udpListenPlan.addresses().isEmpty()) {
            this.udp = compileProtocol(ruleset, tcp, ProtocolMatch.UDP, recent);
        }
    }

    /** Compiles a table with fresh counters and a thread-local random source. */
    public static NatTable compile(Ruleset rules) {
        return compile(rules, null, RandomSource.threadLocal());
    }

    /**
     * Compiles a table for a reload that keeps counters: a rule of {@code rules} that is unchanged from
     * {@code previous} (same chain, equal ignoring its origin, and the same position among its equals in that
     * chain) keeps its counters and its nth position, and built-in chains keep their policy counters. The random
     * source is the previous table's. {@code previous} may be {@code null}.
     */
    public static NatTable compile(Ruleset rules, NatTable previous) {
        return compile(rules, previous, previous == null ? RandomSource.threadLocal() : previous.random);
    }

    /**
     * Compiles a table for a reload as {@code iptables-restore} loads one: every rule starts from zero counters
     * and its first nth position, as the kernel starts every rule of a table it is given. What the kernel keeps
     * across a table replacement is kept from {@code running}: the {@code -m recent} lists, by name, and the
     * random source.
     */
    public static NatTable reloadFresh(Ruleset rules, NatTable running) {
        return compile(rules, running, null, running.random, System::nanoTime);
    }

    /**
     * Compiles a table that draws its random numbers from {@code random} (a seeded source makes
     * {@code --mode random} reproducible), carrying state over from {@code previous} when not {@code null}.
     *
     * @throws IllegalArgumentException when a rule jumps to a chain that does not exist or chains loop
     */
    public static NatTable compile(Ruleset rules, NatTable previous, RandomSource random) {
        return compile(rules, previous, random, System::nanoTime);
    }

    /**
     * {@link #compile(Ruleset, NatTable, RandomSource)} with the clock {@code -m recent} stamps addresses with
     * (nanoseconds, monotonic). A reload keeps the previous table's clock and the lists its rules still name.
     */
    public static NatTable compile(Ruleset rules, NatTable previous, RandomSource random, LongSupplier clock) {
        return compile(rules, previous, previous, random, clock);
    }

    /**
     * {@code recentFrom} gives the new table its {@code -m recent} lists (and their clock), {@code countersFrom} its
     * unchanged rules' counters; either may be {@code null}.
     */
    private static NatTable compile(Ruleset rules, NatTable recentFrom, NatTable countersFrom, RandomSource random,
                                    LongSupplier clock) {
        RecentLists recent = RecentLists.of(rules, recentFrom == null ? null : recentFrom.recent, clock);
        Protocol tcp = compileProtocol(rules, countersFrom == null ? null : countersFrom.tcp, ProtocolMatch.TCP, recent);
        return new NatTable(rules, tcp, random, recent);
    }

    /**
     * Compiles the chains as a connection of {@code protocol} is decided by them. A rule unchanged from
     * {@code previous} keeps its counters: for a reload, the chains of the table before; for UDP, the TCP chains
     * of the same table, since a rule counts (and an nth rule takes its turn for) TCP and UDP alike.
     */
    private static Protocol compileProtocol(Ruleset rules, Protocol previous, int protocol, RecentLists recent) {
        ChainCompiler compiler = new ChainCompiler(rules.byName(), previous == null ? null : previous.chains, protocol,
                recent);
        // PREROUTING first, so that everything a walk reaches is allocated in the order it is reached.
        compiler.compile(DECIDING_CHAIN);
        Map<String, CompiledChain> chains = new LinkedHashMap<>();
        for (Chain chain : rules.chains()) {
            chains.put(chain.name(), compiler.compile(chain.name()));
        }
        CompiledChain prerouting = chains.get(DECIDING_CHAIN);
        if (prerouting == null) {
            // A file without PREROUTING rules still has the built-in chain, with its default policy.
            CompiledChain before = previous == null ? null : previous.prerouting;
            prerouting = new ChainBuild(new Chain(DECIDING_CHAIN, "ACCEPT", List.of()), before, protocol, recent,
                    List.of()).finish();
        }
        // Made last and one after another, in the order the rules were compiled (the order a walk meets them), so
        // that the counters one decision credits share a cache line or two.
        for (CompiledRule rule : compiler.created) {
            if (rule.counters == null) {
                rule.counters = new LiveCounters();
            }
        }
        for (CompiledChain chain : chains.values()) {
            for (CompiledRule rule : chain.rules) {
                if (rule.jumpChain != null) {
                    CompiledChain to = chains.get(rule.jumpChain);
                    if (to == null || to.isBuiltIn()) {
                        throw new IllegalArgumentException(rule.rule.origin() + ": " + rule.label()
                                + " jumps to " + rule.jumpChain + " (expected: a user chain)");
                    }
                    rule.jumpTo = to;
                    // A chain reached by exactly one JUMP (no GOTO) has one path to it: see FlatProgram.
                    to.referrers += rule.action == CompiledRule.Action.JUMP ? 1 : 2;
                }
            }
        }
        checkNoLoops(chains.values());
        return new Protocol(chains, prerouting);
    }

    /**
     * Compiles chains depth first along the jumps: a rule that jumps to a chain not yet compiled has that
     * chain compiled right after it. A service's KUBE-SERVICES rule, its KUBE-SVC chain and its KUBE-SEP
     * chains are then allocated side by side, and a decision in a large table misses the cache less.
     */
    private static final class ChainCompiler {
        private final Map<String, Chain> byName;
        private final Map<String, CompiledChain> previous;
        private final int protocol;
        private final RecentLists recent;
        private final Map<String, CompiledChain> done = new HashMap<>();
        private final Set<String> started = new HashSet<>();
        private final ArrayDeque<ChainBuild> building = new ArrayDeque<>();
        /** Every rule compiled, in the order compiled. */
        final List<CompiledRule> created = new ArrayList<>();

        ChainCompiler(Map<String, Chain> byName, Map<String, CompiledChain> previous, int protocol,
                      RecentLists recent) {
            this.byName = byName;
            this.previous = previous;
            this.protocol = protocol;
            this.recent = recent;
        }

        /**
         * The compiled chain, or {@code null} when there is no such chain or it is being compiled. The chains
         * being compiled are kept on a stack of their own rather than the thread's: the input decides how deep
         * jumps go.
         */
        CompiledChain compile(String name) {
            CompiledChain chain = done.get(name);
            if (chain != null || !start(name)) {
                return chain;
            }
            while (!building.isEmpty()) {
                ChainBuild b = building.peek();
                if (b.complete()) {
                    building.pop();
                    done.put(b.chain.name(), b.finish());
                    continue;
                }
                CompiledRule rule = b.compileNext();
                if (rule.jumpChain != null && !done.containsKey(rule.jumpChain)) {
                    start(rule.jumpChain);
                }
            }
            return done.get(name);
        }

        private boolean start(String name) {
            if (!byName.containsKey(name) || !started.add(name)) {
                return false;
            }
            building.push(new ChainBuild(byName.get(name), previous == null ? null : previous.get(name), protocol,
                    recent, created));
            return true;
        }
    }

    /** One chain being compiled, rule by rule. */
    private static final class ChainBuild {
        final Chain chain;
        /** Equal rules are matched up in order: the k-th copy of a rule inherits from the k-th copy before. */
        private final Map<Rule, ArrayDeque<CompiledRule>> unchanged = new HashMap<>();
        private final CompiledRule[] compiled;
        private final CompiledChain result;
        private final int protocol;
        private final RecentLists recent;
        private final List<CompiledRule> created;
        private int next;

        ChainBuild(Chain chain, CompiledChain before, int protocol, RecentLists recent, List<CompiledRule> created) {
            this.chain = chain;
            this.protocol = protocol;
            this.recent = recent;
            this.created = created;
            if (before != null) {
                for (CompiledRule old : before.rules) {
                    unchanged.computeIfAbsent(CompiledRule.withoutOrigin(old.rule), k -> new ArrayDeque<>()).add(old);
                }
            }
            LiveCounters policyCounters = null;
            if (chain.isBuiltIn()) {
                policyCounters = before != null && before.policyCounters != null
                        ? before.policyCounters : new LiveCounters();
            }
            this.compiled = new CompiledRule[chain.rules().size()];
            this.result = new CompiledChain(chain, compiled, policyCounters);
        }

        boolean complete() {
            return next == compiled.length;
        }

        CompiledRule compileNext() {
            Rule rule = chain.rules().get(next);
            CompiledRule previous = null;
            if (!unchanged.isEmpty()) {
                ArrayDeque<CompiledRule> same = unchanged.get(CompiledRule.withoutOrigin(rule));
                previous = same == null ? null : same.poll();
            }
            compiled[next] = new CompiledRule(rule, next, previous, protocol, recent);
            created.add(compiled[next]);
            return compiled[next++];
        }

        /** The chain, once every rule is compiled (compiling any that are left, without following jumps). */
        CompiledChain finish() {
            while (!complete()) {
                compileNext();
            }
            result.index();
            return result;
        }
    }

    /** iptables refuses a table whose jumps loop; a looping table would never finish a walk here either. */
    private static void checkNoLoops(Iterable<CompiledChain> chains) {
        // Depth first with a stack of its own, as the input decides how deep jumps go: 1 on the path, 2 done.
        Map<CompiledChain, Integer> state = new HashMap<>();
        ArrayDeque<CompiledChain> path = new ArrayDeque<>();
        ArrayDeque<int[]> nextRule = new ArrayDeque<>();
        for (CompiledChain root : chains) {
            if (state.containsKey(root)) {
                continue;
            }
            state.put(root, 1);
            path.addLast(root);
            nextRule.addLast(new int[1]);
            while (!path.isEmpty()) {
                CompiledChain chain = path.peekLast();
                int[] at = nextRule.peekLast();
                if (at[0] == chain.rules.length) {
                    state.put(chain, 2);
                    path.removeLast();
                    nextRule.removeLast();
                    continue;
                }
                CompiledChain to = chain.rules[at[0]++].jumpTo;
                if (to == null) {
                    continue;
                }
                Integer s = state.get(to);
                if (s == null) {
                    state.put(to, 1);
                    path.addLast(to);
                    nextRule.addLast(new int[1]);
                } else if (s == 1) {
                    List<String> names = new ArrayList<>();
                    path.forEach(c -> names.add(c.name));
                    names.add(to.name);
                    throw new IllegalArgumentException("chains jump in a loop: " + String.join(" -> ", names));
                }
            }
        }
    }

    /**
     * Decides where a new connection from {@code clientIp:clientPort} to {@code localIp:localPort} (the
     * address it reached, i.e. the original destination) goes, moving the counters the kernel would move.
     * Addresses are IPv4 as big-endian ints, like {@link io.nthlb.rules.Cidr}. The connection arrived on an
     * interface no rule names, and its destination is the host's own address: see {@link HostNetwork#simulated}.
     */
    public Decision decide(int clientIp, int clientPort, int localIp, int localPort) {
        return decide(clientIp, clientPort, localIp, localPort, null);
    }

    /**
     * {@link #decide(int, int, int, int)} for a connection whose incoming interface and address types
     * {@code network} knows; {@code null} is the default of {@link #decide(int, int, int, int)}.
     */
    public Decision decide(int clientIp, int clientPort, int localIp, int localPort, HostNetwork network) {
        return walk(tcp, clientIp, clientPort, localIp, localPort, network);
    }

    /**
     * Decides where a new UDP flow (conntrack's word: the first datagram from {@code clientIp:clientPort} to
     * {@code localIp:localPort} with no entry yet) goes, as {@link #decide(int, int, int, int)} does a TCP
     * connection: rules that cannot match UDP ({@code -p tcp}) are skipped, and the counters moved are the same
     * counters TCP moves.
     */
    public Decision decideUdp(int clientIp, int clientPort, int localIp, int localPort) {
        return decideUdp(clientIp, clientPort, localIp, localPort, null);
    }

    /** {@link #decideUdp(int, int, int, int)} for a flow whose arrival {@code network} knows, as for TCP. */
    public Decision decideUdp(int clientIp, int clientPort, int localIp, int localPort, HostNetwork network) {
        return walk(udp(), clientIp, clientPort, localIp, localPort, network);
    }

    private Protocol udp() {
        Protocol u = udp;
        if (u == null) {
            synchronized (this) {
                u = udp;
                if (u == null) {
                    u = compileProtocol(ruleset, tcp, ProtocolMatch.UDP, recent);
                    udp = u;
                }
            }
        }
        return u;
    }

    private Decision walk(Protocol protocol, int clientIp, int clientPort, int localIp, int localPort,
                          HostNetwork network) {
        FlatProgram p = protocol.program;
        int[] code = p.code;
        Walk w = WALK.get();
        w.arrival.reset(network, clientIp, localIp);
        int credits = 0;
        int depth = 0;
        // The cursor in the current chain: the next record to try, its rule-by-rule link, or a candidate list.
        w.enter(p, p.start, p.startKeyed, localIp, localPort);
        int[] list = w.list;
        int[] map = w.map;
        int pos = w.pos;
        int end = w.end;
        while (true) {
            int r;
            if (list == null) {
                r = pos;
                if (r >= 0) {
                    pos = end == Walk.SINGLE ? -1 : code[r * FlatProgram.STRIDE + FlatProgram.NEXT];
                }
            } else if (pos < end) {
                int v = list[pos++];
                r = map == null ? v : map[v];
            } else {
                r = -1;
            }
            if (r >= 0) {
                int o = r * FlatProgram.STRIDE;
                int flags = code[o];
                if ((flags & FlatProgram.STEPS) != 0) {
                    if (!p.rules[r].matches(clientIp, clientPort, localIp, localPort, random, w.arrival)) {
                        continue;
                    }
                } else if (!matches(code, o, flags, clientIp, clientPort, localIp, localPort, random)) {
                    continue;
                }
                if (credits == w.credited.length) {
                    w.grow();
                }
                w.credited[credits++] = r;
                switch (flags >>> FlatProgram.ACTION_SHIFT) {
                    case FlatProgram.CONTINUE:
                        continue;
                    case FlatProgram.ACCEPT:
                    case FlatProgram.REWRITE: {
                        // Credited only the jumps that led here, along the rule's one path: the same decision as
                        // every time before, kept once made.
                        boolean same = credits == depth + 1 && (flags & FlatProgram.SAME) != 0;
                        Decision d = same ? p.decisions[r] : null;
                        count(p, w.credited, credits);
                        if (d == null) {
                            d = decision(p, p.rules[r], w.credited, credits, clientIp, localIp, localPort);
                            if (same) {
                                p.decisions[r] = d;
                            }
                        }
                        return d;
                    }
                    case FlatProgram.JUMP:
                        w.push(depth++, list, map, pos, end);
                        // A jump is a goto that leaves its way back on the stack: go on as a goto.
                    case FlatProgram.GOTO:
                        if (code[o + FlatProgram.TARGET_KEYED] < 0) {
                            // A chain walked rule by rule (most user chains): no lookup.
                            list = null;
                            map = null;
                            pos = code[o + FlatProgram.TARGET_FIRST];
                            end = 0;
                            continue;
                        }
                        w.enter(p, code[o + FlatProgram.TARGET_FIRST], code[o + FlatProgram.TARGET_KEYED],
                                localIp, localPort);
                        list = w.list;
                        map = w.map;
                        pos = w.pos;
                        end = w.end;
                        continue;
                    case FlatProgram.RETURN:
                        break;
                    default:
                        throw new AssertionError(flags);
                }
            }
            // RETURN, or the end of a chain (an implicit RETURN): back to the rule after the jump, or, with
            // nothing on the stack (PREROUTING itself, or a chain reached from it only by gotos), the policy.
            if (depth == 0) {
                LiveCounters[] counters = counters(p, w.credited, credits, 1);
                count(p, w.credited, credits);
                protocol.prerouting.policyCounters.addPacket();
                return policy(protocol.prerouting, counters, credits);
            }
            depth--;
            list = w.stackList[depth];
            map = w.stackMap[depth];
            pos = w.stackPos[depth];
            end = w.stackEnd[depth];
            w.stackList[depth] = null;
            w.stackMap[depth] = null;
        }
    }

    /** Counts a packet for each credited record's rule, as the walk ends. */
    private static void count(FlatProgram p, int[] credited, int credits) {
        for (int i = 0; i < credits; i++) {
            p.rules[credited[i]].counters.addPacket();
        }
    }

    /** The fixed part and a lone random match of a record, as {@link CompiledRule#matches} tests them. */
    private static boolean matches(int[] code, int o, int flags, int clientIp, int clientPort, int localIp,
                                   int localPort, RandomSource random) {
        if ((flags & FlatProgram.CAN_MATCH) == 0
                || ((clientIp & code[o + FlatProgram.SRC_MASK]) == code[o + FlatProgram.SRC])
                        == ((flags & FlatProgram.SRC_INV) != 0)
                || ((localIp & code[o + FlatProgram.DST_MASK]) == code[o + FlatProgram.DST])
                        == ((flags & FlatProgram.DST_INV) != 0)) {
            return false;
        }
        int sports = code[o + FlatProgram.SPORTS];
        int dports = code[o + FlatProgram.DPORTS];
        if ((clientPort >= sports >>> 16 && clientPort <= (sports & 0xFFFF)) == ((flags & FlatProgram.SPORT_INV) != 0)
                || (localPort >= dports >>> 16 && localPort <= (dports & 0xFFFF))
                        == ((flags & FlatProgram.DPORT_INV) != 0)) {
            return false;
        }
        return (flags & FlatProgram.RANDOM) == 0
                || ((random.nextInt() & 0x7FFFFFFFL) < (code[o + FlatProgram.THRESHOLD] & 0xFFFFFFFFL))
                        != ((flags & FlatProgram.RANDOM_INV) != 0);
    }

    /** A decision made on the spot: a varying destination, or a path with more than the jumps to the rule. */
    private Decision decision(FlatProgram p, CompiledRule rule, int[] credited, int credits, int clientIp,
                              int localIp, int localPort) {
        LiveCounters[] counters = counters(p, credited, credits, 0);
        return rule.action == CompiledRule.Action.ACCEPT
                ? new Decision(null, "ACCEPT", rule, null, counters, credits)
                : new Decision(rule.rewrite(clientIp, localIp, localPort, random), null, rule, null, counters, credits);
    }

    private static LiveCounters[] counters(FlatProgram p, int[] credited, int credits, int spare) {
        LiveCounters[] counters = new LiveCounters[credits + spare];
        for (int i = 0; i < credits; i++) {
            counters[i] = p.rules[credited[i]].counters;
        }
        return counters;
    }

    private static final ThreadLocal<Walk> WALK = ThreadLocal.withInitial(Walk::new);

    /**
     * One thread's scratch space for walks, so that a decision allocates nothing but, when it varies, itself: the
     * jump stack, the records credited so far, and the cursor of the chain being entered.
     */
    private static final class Walk {
        /** {@link #end} of a cursor that holds one record and then stops. */
        static final int SINGLE = 1;

        int[][] stackList = new int[8][];
        int[][] stackMap = new int[8][];
        int[] stackPos = new int[8];
        int[] stackEnd = new int[8];
        int[] credited = new int[8];
        final Arrival arrival = new Arrival();

        void grow() {
            credited = Arrays.copyOf(credited, credited.length * 2);
        }

        int[] list;
        int[] map;
        int pos;
        int end;

        void push(int depth, int[] list, int[] map, int pos, int end) {
            if (depth == stackPos.length) {
                stackList = Arrays.copyOf(stackList, depth * 2);
                stackMap = Arrays.copyOf(stackMap, depth * 2);
                stackPos = Arrays.copyOf(stackPos, depth * 2);
                stackEnd = Arrays.copyOf(stackEnd, depth * 2);
            }
            stackList[depth] = list;
            stackMap[depth] = map;
            stackPos[depth] = pos;
            stackEnd[depth] = end;
        }

        /** Sets the cursor to the start of a chain: its first record, or its candidates for the destination. */
        void enter(FlatProgram p, int first, int keyedId, int localIp, int localPort) {
            if (keyedId < 0) {
                list = null;
                map = null;
                pos = first;
                end = 0;
                return;
            }
            FlatProgram.Keyed keyed = p.keyed[keyedId];
            long value = keyed.exact(localIp, localPort);
            if (value == 0) {
                list = keyed.index.candidates(localIp, localPort);
                map = keyed.recordOf;
                pos = CandidateIndex.FIRST;
                end = list.length;
            } else if ((value >>> 32) == 1) {
                list = null;
                map = null;
                pos = (int) value;
                end = SINGLE;
            } else {
                int offset = (int) value - 1;
                list = keyed.pool;
                map = null;
                pos = offset + 1;
                end = offset + 1 + keyed.pool[offset];
            }
        }
    }

    private static Decision policy(CompiledChain chain, LiveCounters[] credited, int creditedCount) {
        credited[creditedCount++] = chain.policyCounters;
        return new Decision(null, chain.policy, null, chain.policyLabel, credited, creditedCount);
    }

    /**
     * {@link #decide(int, int, int, int)} for socket addresses: {@code client} is the peer, {@code local}
     * the address the connection was accepted on. Both must be IPv4.
     */
    public Decision decide(InetSocketAddress client, InetSocketAddress local) {
        return decide(client, local, null);
    }

    /** {@link #decide(InetSocketAddress, InetSocketAddress)} with what {@code network} knows of the arrival. */
    public Decision decide(InetSocketAddress client, InetSocketAddress local, HostNetwork network) {
        return decide(ipv4(client), client.getPort(), ipv4(local), local.getPort(), network);
    }

    /** {@link #decideUdp(int, int, int, int, HostNetwork)} for socket addresses. */
    public Decision decideUdp(InetSocketAddress client, InetSocketAddress local, HostNetwork network) {
        return decideUdp(ipv4(client), client.getPort(), ipv4(local), local.getPort(), network);
    }

    /**
     * An IPv4 socket address's address as a big-endian int, as {@link #decide(int, int, int, int)} takes it.
     *
     * @throws IllegalArgumentException for an IPv6 address
     */
    public static int ipv4(InetSocketAddress address) {
        if (!(address.getAddress() instanceof Inet4Address v4)) {
            throw new IllegalArgumentException("address: " + address + " (expected: IPv4)");
        }
        byte[] b = v4.getAddress();
        return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | (b[3] & 0xFF);
    }

    /** The rules this table was compiled from. */
    public Ruleset ruleset() {
        return ruleset;
    }

    /**
     * The counters of rule {@code ruleIndex} (0-based, in the order of {@link Chain#rules()}) of a chain.
     *
     * @throws IllegalArgumentException when there is no such chain or rule
     */
    public LiveCounters counters(String chain, int ruleIndex) {
        CompiledChain c = chain(chain);
        if (ruleIndex < 0 || ruleIndex >= c.rules.length) {
            throw new IllegalArgumentException("ruleIndex: " + ruleIndex + " (expected: 0-" + (c.rules.length - 1)
                    + " in " + chain + ")");
        }
        return c.rules[ruleIndex].counters;
    }

    /** The counters as the rules printers read them: live, so each read gives the value now. */
    public CounterView counterView() {
        return new CounterView() {
            @Override
            public long packets(String chain, int index) {
                return counters(chain, index).packets();
            }

            @Override
            public long bytes(String chain, int index) {
                return counters(chain, index).bytes();
            }

            @Override
            public long policyPackets(String chain) {
                return policyCounters(chain).packets();
            }

            @Override
            public long policyBytes(String chain) {
                return policyCounters(chain).bytes();
            }
        };
    }

    /**
     * The policy counters of a built-in chain.
     *
     * @throws IllegalArgumentException when the chain does not exist or is a user chain
     */
    public LiveCounters policyCounters(String chain) {
        CompiledChain c = chain(chain);
        if (c.policyCounters == null) {
            throw new IllegalArgumentException("chain: " + chain + " (expected: a built-in chain)");
        }
        return c.policyCounters;
    }

    private CompiledChain chain(String name) {
        CompiledChain c = name.equals(DECIDING_CHAIN) ? tcp.prerouting : tcp.chains.get(name);
        if (c == null) {
            throw new IllegalArgumentException("chain: " + name + " (expected: one of " + tcp.chains.keySet() + ")");
        }
        return c;
    }

    /**
     * Where nthlb must listen to receive the connections PREROUTING can DNAT or REDIRECT: one entry per
     * (address, port), a specific address only when no wildcard covers its port. See {@link ListenPlan}.
     */
    public List<ListenAddress> listenAddresses() {
        return listenPlan.addresses();
    }

    /** The backends PREROUTING can DNAT or REDIRECT connections to, as far as the rules name them: see {@link ListenPlan#backends}. */
    public List<InetSocketAddress> backends() {
        return listenPlan.backends();
    }

    /** Whether the table can send a TCP connection to {@code backend}, listed in {@link #backends()} or not. */
    public boolean reaches(InetSocketAddress backend) {
        return listenPlan.reaches(backend);
    }

    /** Whether the table can send a UDP flow to {@code backend}. */
    public boolean reachesUdp(InetSocketAddress backend) {
        return udpListenPlan.reaches(backend);
    }

    /**
     * DNAT or REDIRECT paths that a userspace listener cannot serve (no destination port, too many ports), TCP's
     * and UDP's, in the order of the rules; a path that both protocols take (no {@code -p}) is named once.
     */
    public List<RuleError> listenErrors() {
        Set<RuleError> unique = new LinkedHashSet<>(listenPlan.errors());
        unique.addAll(udpListenPlan.errors());
        List<RuleError> errors = new ArrayList<>(unique);
        errors.sort(Comparator.comparingInt(e -> e.origin() == null ? 0 : e.origin().line()));
        return List.copyOf(errors);
    }

    /**
     * Where nthlb must listen for the UDP flows PREROUTING can DNAT or REDIRECT ({@code -p udp} paths), as
     * {@link #listenAddresses()} for TCP.
     */
    public List<ListenAddress> udpListenAddresses() {
        return udpListenPlan.addresses();
    }

    /** Every rule's and policy's counters, for debugging: {@code CHAIN:N [pkts:bytes]}. */
    @Override
    public String toString() {
        List<String> lines = new ArrayList<>();
        for (CompiledChain chain : tcp.chains.values()) {
            if (chain.policyCounters != null) {
                lines.add(chain.policyLabel + " " + chain.policyCounters);
            }
            for (CompiledRule rule : chain.rules) {
                lines.add(rule.label() + " " + rule.counters);
            }
        }
        return String.join("\n", lines);
    }
}
