package io.nthlb.admin;

import java.net.InetSocketAddress;

/**
 * The seed's cascade on loopback, as rules-file text: for each VIP port,
 * {@code iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport VIP -m statistic --mode nth --every N
 * --packet 0 -j DNAT --to-destination BACKEND}, N counting down to 1 over the backends.
 */
final class SeedRules {

    private final StringBuilder text = new StringBuilder();

    /** Appends the cascade that spreads {@code vipPort} over {@code backends}. */
    SeedRules vip(int vipPort, InetSocketAddress... backends) {
        for (int i = 0; i < backends.length; i++) {
            text.append("iptables -t nat -A PREROUTING -d 127.0.0.1 -p tcp --dport ").append(vipPort)
                    .append(" -m statistic --mode nth --every ").append(backends.length - i).append(" --packet 0")
                    .append(" -j DNAT --to-destination 127.0.0.1:").append(backends[i].getPort()).append('\n');
        }
        return this;
    }

    String text() {
        return text.toString();
    }
}
