package io.nthlb.nat;

import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.RedirectTarget;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * What a DNAT or REDIRECT rule rewrites a connection's destination to, chosen the way
 * {@code nf_nat_core.c} chooses it.
 *
 * <p>Address: one address is used as is; for a range {@code A1-A2} the kernel's
 * {@code find_best_ips_proto} hashes the client's address with {@code jhash2}, seeded with the original
 * destination address (0 with {@code --persistent}), and scales the hash onto the range. That is
 * deterministic and is reproduced here bit for bit (assuming a little-endian kernel, as on x86 and arm64,
 * because the kernel hashes the addresses' in-memory words). REDIRECT sends to the connection's own local
 * address, the userspace counterpart of the kernel's "primary address of the incoming interface".
 *
 * <p>Port: with no port given, the asked-for port is kept. With a range, {@code get_unique_tuple} keeps the
 * asked-for port when it lies in the range; otherwise {@code nf_nat_l4proto_unique_tuple} starts from offset
 * 0 for a destination rewrite, so the first port of the range is used. With {@code --random} both steps use
 * {@code min + get_random_u16() % size} instead. (Kernel 6.18 observed in a network namespace: in-range
 * ports kept, out-of-range ports always the first, {@code --random} spread; some older kernels drew a random
 * offset even without {@code --random}.) The kernel then steps past ports whose tuple is already in use by
 * another conntrack entry; nthlb has no conntrack table and skips that step, which changes nothing unless
 * the same client address and port already hold a connection to that backend.
 */
final class DestinationRewrite {

    private final boolean redirect;
    private final int firstAddress;
    private final int lastAddress;
    private final boolean persistent;
    private final boolean random;
    /** First and last port of the rewrite, or -1 to keep the asked-for port. */
    private final int firstPort;
    private final int lastPort;
    /** The whole answer when it cannot vary: one address and one port. */
    private final InetSocketAddress fixed;
    /** The address as an object when it is a single one, so that keeping the port needs no lookup. */
    private final InetAddress singleAddress;

    private DestinationRewrite(boolean redirect, int firstAddress, int lastAddress, PortRange ports,
                               boolean random, boolean persistent) {
        this.redirect = redirect;
        this.firstAddress = firstAddress;
        this.lastAddress = lastAddress;
        this.random = random;
        this.persistent = persistent;
        this.firstPort = ports == null ? -1 : Math.min(ports.first(), ports.last());
        this.lastPort = ports == null ? -1 : Math.max(ports.first(), ports.last());
        this.singleAddress = !redirect && firstAddress == lastAddress ? inetAddress(firstAddress) : null;
        this.fixed = singleAddress != null && ports != null && firstPort == lastPort
                ? new InetSocketAddress(singleAddress, firstPort) : null;
    }

    static DestinationRewrite of(DnatTarget target) {
        return new DestinationRewrite(false, target.firstAddress(), target.lastAddress(), target.ports(),
                target.random(), target.persistent());
    }

    static DestinationRewrite of(RedirectTarget target) {
        return new DestinationRewrite(true, 0, 0, target.ports(), target.random(), false);
    }

    /** The answer when it is always the same (one address, one port), or {@code null}. */
    InetSocketAddress fixed() {
        return fixed;
    }

    /** The new destination of a connection from {@code clientIp} to {@code localIp:localPort}. */
    InetSocketAddress rewrite(int clientIp, int localIp, int localPort, RandomSource randomSource) {
        if (fixed != null) {
            return fixed;
        }
        int port = port(localPort, randomSource);
        if (singleAddress != null) {
            return new InetSocketAddress(singleAddress, port);
        }
        int address = redirect ? localIp : kernelAddress(clientIp, localIp, firstAddress, lastAddress, persistent);
        return new InetSocketAddress(inetAddress(address), port);
    }

    private int port(int askedPort, RandomSource randomSource) {
        if (firstPort < 0) {
            return askedPort;
        }
        if (!random) {
            return askedPort >= firstPort && askedPort <= lastPort ? askedPort : firstPort;
        }
        int size = lastPort - firstPort + 1;
        return firstPort + (randomSource.nextInt() & 0xFFFF) % size;
    }

    /**
     * {@code find_best_ips_proto} for IPv4: {@code jhash2} of the source address (the 16-byte
     * {@code nf_inet_addr}, of which an IPv4 address fills the first word and the rest is zero) seeded
     * with the original destination (conntrack zone 0), then {@code reciprocal_scale} onto the range.
     */
    static int kernelAddress(int clientIp, int originalDestination, int first, int last, boolean persistent) {
        if (first == last) {
            return first;
        }
        // The kernel hashes the addresses as they lie in memory (network order), read as host-order words.
        int initval = persistent ? 0 : Integer.reverseBytes(originalDestination);
        int j = jhash2FirstWordOfFour(Integer.reverseBytes(clientIp), initval);
        int dist = last - first + 1; // u32 arithmetic: 0 for the whole address space, as in the kernel
        int scaled = (int) (((j & 0xFFFFFFFFL) * (dist & 0xFFFFFFFFL)) >>> 32);
        return first + scaled;
    }

    /** The kernel's {@code jhash2(k, 4, initval)} for a key whose words 1-3 are zero. */
    static int jhash2FirstWordOfFour(int word0, int initval) {
        int a = 0xdeadbeef + (4 << 2) + initval;
        int b = a;
        int c = a;
        // Loop body for the first three words, then __jhash_mix.
        a += word0;
        a -= c; a ^= Integer.rotateLeft(c, 4); c += b;
        b -= a; b ^= Integer.rotateLeft(a, 6); a += c;
        c -= b; c ^= Integer.rotateLeft(b, 8); b += a;
        a -= c; a ^= Integer.rotateLeft(c, 16); c += b;
        b -= a; b ^= Integer.rotateLeft(a, 19); a += c;
        c -= b; c ^= Integer.rotateLeft(b, 4); b += a;
        // One word left (zero): a += 0, then __jhash_final.
        c ^= b; c -= Integer.rotateLeft(b, 14);
        a ^= c; a -= Integer.rotateLeft(c, 11);
        b ^= a; b -= Integer.rotateLeft(a, 25);
        c ^= b; c -= Integer.rotateLeft(b, 16);
        a ^= c; a -= Integer.rotateLeft(c, 4);
        b ^= a; b -= Integer.rotateLeft(a, 14);
        c ^= b; c -= Integer.rotateLeft(b, 24);
        return c;
    }

    static InetAddress inetAddress(int ip) {
        try {
            return InetAddress.getByAddress(new byte[] {
                (byte) (ip >>> 24), (byte) (ip >>> 16), (byte) (ip >>> 8), (byte) ip});
        } catch (UnknownHostException e) {
            throw new AssertionError("four bytes are always an IPv4 address", e);
        }
    }
}
