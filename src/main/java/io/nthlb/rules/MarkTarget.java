package io.nthlb.rules;

/**
 * {@code -j MARK}, in the one form iptables prints every variant as: {@code --set-xmark VALUE/MASK} (zero the
 * mask's bits, then xor the value in).
 *
 * @param value the value, 32 bits
 * @param mask  the mask, 32 bits
 */
public record MarkTarget(long value, long mask) implements PassiveTarget {
    @Override
    public String name() {
        return "MARK";
    }

    @Override
    public boolean terminates() {
        return false;
    }
}
