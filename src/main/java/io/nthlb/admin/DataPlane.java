package io.nthlb.admin;

import io.nthlb.nat.NatTable;
import io.nthlb.proxy.ListenerSet;

/** What the admin side needs of the running data plane: its table, a way to replace it, its listeners. */
public interface DataPlane {

    /** The table new connections are decided by now. */
    NatTable table();

    /** Makes {@code next} the table for new connections; open connections keep their backends. */
    void install(NatTable next);

    ListenerSet listeners();

    /** Client connections open now. */
    int openConnections();
}
