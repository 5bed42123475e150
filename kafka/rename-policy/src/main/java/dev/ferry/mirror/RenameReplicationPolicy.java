package dev.ferry.mirror;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.mirror.DefaultReplicationPolicy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;

/**
 * A MirrorMaker 2 replication policy that gives mirrored topics new names from a fixed map.
 *
 * <p>MM2 asks the policy, never an SMT, for the target topic in three places: every mirrored
 * record, target topic creation and config sync, and the topic written into checkpoints and synced
 * group offsets. It also asks the way back ({@link #topicSource}, {@link #upstreamTopic}) to pair
 * target topics with source topics. So the map must be a bijection that every connector agrees on.
 *
 * <pre>
 *   replication.policy.class=dev.ferry.mirror.RenameReplicationPolicy
 *   replication.policy.ferry.renames=orders:sales.orders.v1,payments:sales.payments.v1
 *   source.cluster.alias=legacy           (MM2 sets this for each connector)
 * </pre>
 *
 * <table>
 *   <caption>What each method answers, with source cluster alias {@code legacy}</caption>
 *   <tr><th>name</th><th>formatRemoteTopic("legacy", name)</th><th>topicSource</th><th>upstreamTopic</th></tr>
 *   <tr><td>orders (mapped legacy name)</td><td>sales.orders.v1</td><td>null</td><td>null</td></tr>
 *   <tr><td>sales.orders.v1 (mapped new name)</td><td>sales.orders.v1</td><td>legacy</td><td>orders</td></tr>
 *   <tr><td>audit (unmapped)</td><td>audit</td><td>null</td><td>null</td></tr>
 *   <tr><td>heartbeats</td><td>legacy.heartbeats</td><td>null</td><td>null</td></tr>
 *   <tr><td>legacy.heartbeats</td><td>legacy.legacy.heartbeats</td><td>legacy</td><td>heartbeats</td></tr>
 * </table>
 *
 * <p><b>Unmapped topics keep their name</b> (like {@code IdentityReplicationPolicy}), so no
 * {@code legacy.} prefix ever appears on the new cluster. They do not map back: the policy cannot
 * tell a mirrored {@code audit} from a topic created on the new cluster, and it never guesses from a
 * separator. MM2 therefore cannot pair such topics (it reports them missing on every refresh and
 * does not sync their configs); replicate only mapped topics, and map a topic that keeps its name
 * to itself ({@code audit:audit}).
 *
 * <p><b>Heartbeats keep the default behaviour</b>: {@code heartbeats} and names ending in
 * {@code <separator>heartbeats} are formatted and parsed by {@link DefaultReplicationPolicy}, so
 * heartbeat replication and {@link #isHeartbeatsTopic} work as usual. Offset-syncs, checkpoints and
 * internal-topic helpers are inherited unchanged. Map entries may not name internal or heartbeats
 * topics.
 *
 * <p>The map is applied only when MM2 formats a topic from the configured source alias; a flow from
 * any other cluster sees the identity. {@link #configure} is cheap, deterministic and idempotent:
 * it parses the whole configuration afresh and swaps in the result only when it is valid.
 */
public class RenameReplicationPolicy extends DefaultReplicationPolicy {

    private static final Logger log = LoggerFactory.getLogger(RenameReplicationPolicy.class);

    /** The rename map; in dedicated mode only {@code replication.policy.*} keys reach connectors. */
    public static final String RENAMES_CONFIG = "replication.policy.ferry.renames";
    public static final String SOURCE_CLUSTER_ALIAS_CONFIG = "source.cluster.alias";

    /** Everything configure decides, swapped in one write. */
    private record State(String sourceAlias, RenameMap renames, String separator) {
    }

    private volatile State state = new State(null, RenameMap.EMPTY, SEPARATOR_DEFAULT);

    @Override
    public void configure(Map<String, ?> props) {
        // Parse against a scratch default policy so that a bad map leaves this one untouched.
        DefaultReplicationPolicy defaults = new DefaultReplicationPolicy();
        defaults.configure(props);
        String separator = stringValue(props, SEPARATOR_CONFIG, SEPARATOR_DEFAULT);
        String alias = stringValue(props, SOURCE_CLUSTER_ALIAS_CONFIG, null);
        if (!props.containsKey(RENAMES_CONFIG)) {
            throw new ConfigException(RENAMES_CONFIG + " is not set. " + getClass().getName()
                    + " needs it (empty for no renames); in dedicated MirrorMaker put it at the top level"
                    + " or under '<source>-><target>.', other prefixes are dropped.");
        }
        RenameMap renames = RenameMap.parse(RENAMES_CONFIG, stringValue(props, RENAMES_CONFIG, ""),
                name -> defaults.isInternalTopic(name) || looksLikeHeartbeats(name, defaults, separator));
        if (!renames.isEmpty() && (alias == null || alias.isBlank())) {
            throw new ConfigException(SOURCE_CLUSTER_ALIAS_CONFIG + " is not set, but " + RENAMES_CONFIG
                    + " renames " + renames.size() + " topics; the policy cannot name their source cluster.");
        }

        super.configure(props);
        state = new State(alias, renames, separator);
        log.info("Renaming {} topics from source cluster '{}'", renames.size(), alias);
    }

    @Override
    public String formatRemoteTopic(String sourceClusterAlias, String topic) {
        State s = state;
        if (sourceClusterAlias != null && sourceClusterAlias.equals(s.sourceAlias)) {
            String renamed = s.renames.newName(topic);
            if (renamed != null) {
                return renamed;
            }
        }
        if (looksLikeHeartbeats(topic, this, s.separator)) {
            return super.formatRemoteTopic(sourceClusterAlias, topic);
        }
        return topic;
    }

    @Override
    public String topicSource(String topic) {
        State s = state;
        if (s.renames.legacyName(topic) != null) {
            return s.sourceAlias;
        }
        if (looksLikeHeartbeats(topic, this, s.separator)) {
            return super.topicSource(topic);
        }
        return null;
    }

    @Override
    public String upstreamTopic(String topic) {
        State s = state;
        String legacy = s.renames.legacyName(topic);
        if (legacy != null) {
            return legacy;
        }
        if (looksLikeHeartbeats(topic, this, s.separator)) {
            return super.upstreamTopic(topic);
        }
        return null;
    }

    /** The configured map, legacy name to new name (for diagnostics and tests). */
    public Map<String, String> renames() {
        return state.renames.asMap();
    }

    /** The configured source cluster alias, or null before configure. */
    public String sourceClusterAlias() {
        return state.sourceAlias;
    }

    /**
     * {@code heartbeats} itself or a heartbeats topic mirrored from elsewhere
     * ({@code <alias><separator>heartbeats}). Stricter than IdentityReplicationPolicy's
     * {@code endsWith("heartbeats")}, which would also catch a data topic named {@code app-heartbeats}.
     */
    private static boolean looksLikeHeartbeats(String topic, DefaultReplicationPolicy policy, String separator) {
        if (topic == null) {
            return false;
        }
        String heartbeats = policy.heartbeatsTopic();
        return topic.equals(heartbeats) || topic.endsWith(separator + heartbeats);
    }

    private static String stringValue(Map<String, ?> props, String key, String fallback) {
        Object value = props.get(key);
        return value == null ? fallback : value.toString();
    }
}
