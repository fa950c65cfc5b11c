package io.nthlb.rules;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CidrTest {

    @Test
    void storesTheAddressMaskedAsIptablesDoes() {
        Cidr cidr = new Cidr(0x0A000107, 24);
        assertThat(cidr).hasToString("10.0.1.0/24");
        assertThat(cidr.contains(0x0A0001FF)).isTrue();
        assertThat(cidr.contains(0x0A000201)).isFalse();
    }

    @Test
    void zeroPrefixContainsEveryAddress() {
        assertThat(Cidr.ANY.contains(0xFFFFFFFF)).isTrue();
        assertThat(Cidr.ANY.contains(0)).isTrue();
        assertThat(Cidr.ANY).hasToString("0.0.0.0/0");
    }
}
