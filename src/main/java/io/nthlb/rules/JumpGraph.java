package io.nthlb.rules;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The chains' jumps as the kernel checks them when a rule is added: from a built-in chain no path of jumps
 * and gotos may loop or pass through more than {@link #MAX_JUMPS} of them. Chains no built-in chain reaches
 * are not checked, as the kernel does not check them.
 *
 * <p>Each chain keeps its depth (the most jumps from a built-in chain to it, -1 when none reaches it) and its
 * height (the most jumps on a path out of it, {@link #UNBOUNDED} for a loop or anything deeper than a
 * table may hold). Both only grow as jumps are added and are capped, so keeping them up to date costs at most
 * a few walks over each jump over a whole file: checking a table of tens of thousands of jumps stays linear.
 */
final class JumpGraph {
    /**
     * The most jumps a path from a built-in chain may take: iptables 1.8.9 (nf_tables) accepts a chain 15
     * jumps below PREROUTING and refuses the jump that puts one 16 below with "Too many links".
     */
    static final int MAX_JUMPS = 15;
    private static final int UNBOUNDED = MAX_JUMPS + 1;

    private static final class Node {
        final List<Node> children = new ArrayList<>();
        final List<Node> parents = new ArrayList<>();
        int depth = -1;
        int height;
    }

    private final Map<String, Node> nodes = new HashMap<>();

    JumpGraph() {
        for (String name : Chain.BUILT_IN) {
            node(name).depth = 0;
        }
    }

    private Node node(String chain) {
        return nodes.computeIfAbsent(chain, k -> new Node());
    }

    /** Whether the kernel would take a jump (or goto) from {@code from} to {@code to} in the table as it is. */
    boolean allows(String from, String to) {
        Node x = node(from);
        Node y = node(to);
        if (x.depth < 0) {
            return true;
        }
        if (x == y || x.depth + 1 + y.height > MAX_JUMPS) {
            return false;
        }
        return y.height <= x.height || !reaches(y, x);
    }

    /**
     * Whether {@code to} reaches {@code from}. Only chains higher than {@code from} can lie on such a path,
     * so the walk skips the rest.
     */
    private static boolean reaches(Node start, Node goal) {
        Set<Node> seen = new HashSet<>();
        ArrayDeque<Node> todo = new ArrayDeque<>();
        todo.push(start);
        seen.add(start);
        while (!todo.isEmpty()) {
            for (Node c : todo.pop().children) {
                if (c == goal) {
                    return true;
                }
                if (c.height > goal.height && seen.add(c)) {
                    todo.push(c);
                }
            }
        }
        return false;
    }

    /** Adds a jump {@link #allows} accepted, or one from a chain no built-in chain reaches. */
    void add(String from, String to) {
        Node x = node(from);
        Node y = node(to);
        x.children.add(y);
        y.parents.add(x);
        // Heights grow back along the jumps, depths forward; each value only rises, to its cap.
        ArrayDeque<Node> todo = new ArrayDeque<>();
        if (raiseHeight(x, y.height + 1)) {
            todo.push(x);
        }
        while (!todo.isEmpty()) {
            Node n = todo.pop();
            for (Node p : n.parents) {
                if (raiseHeight(p, n.height + 1)) {
                    todo.push(p);
                }
            }
        }
        if (x.depth >= 0 && raiseDepth(y, x.depth + 1)) {
            todo.push(y);
        }
        while (!todo.isEmpty()) {
            Node n = todo.pop();
            for (Node c : n.children) {
                if (raiseDepth(c, n.depth + 1)) {
                    todo.push(c);
                }
            }
        }
    }

    private static boolean raiseHeight(Node n, int height) {
        int capped = Math.min(height, UNBOUNDED);
        if (capped <= n.height) {
            return false;
        }
        n.height = capped;
        return true;
    }

    private static boolean raiseDepth(Node n, int depth) {
        int capped = Math.min(depth, UNBOUNDED);
        if (capped <= n.depth) {
            return false;
        }
        n.depth = capped;
        return true;
    }
}
