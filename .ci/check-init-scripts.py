"""The init scripts compose runs, run here against the machine's
PostgreSQL and RabbitMQ as CI runs them.

deploy/postgres/init.sh, each service's role:
- the script runs twice; the second run changes nothing (roles, their
  attributes and passwords, databases, their owners and privileges, the
  owners of what is in them), and neither run changes any other role;
- each role connects to its own database and to no other service's, is no
  superuser, and cannot create a role or a database;
- with --no-test-leftovers: no test database or role (testkit's
  `switchyard_test_` prefix) is left after the test run.

deploy/rabbitmq/init.sh, each service's broker user, in a namespace of
this check's own whose users it deletes afterwards:
- the script runs twice; the second run changes nothing (users, password
  hashes, permissions, topic permissions, the exchange), and guest's
  rights are the same before and after;
- each service's user, whatever the list holds (a generated service's
  too), publishes each of its own event types to the events exchange, and
  is refused (ACCESS_REFUSED) another service's;
- with --no-test-leftovers: no test user (the test kit's `test-` prefix)
  is left after the test run.
(The rest of what each broker user may and may not do is tested against
the broker by libs/comms/tests/comms/broker_users.rs.)

Runs psql as the local superuser (PGHOST 127.0.0.1, PGUSER postgres unless
set) and rabbitmqctl."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "deploy"))
import services as service_list  # noqa: E402

ENV = {**os.environ, "PGHOST": os.environ.get("PGHOST", "127.0.0.1"), "PGUSER": os.environ.get("PGUSER", "postgres")}
TEST_PREFIX = "switchyard_test_"


def psql(sql, database="postgres", user=None):
    """(ok, output) of one statement; `user` connects as that role."""
    env = dict(ENV, PGUSER=user) if user else ENV
    result = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                            env=env, capture_output=True, text=True)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def query(sql, database="postgres"):
    ok, output = psql(sql, database)
    if not ok:
        sys.exit(f"check-init-scripts: {sql!r} failed: {output}")
    return output.splitlines()


def roles():
    """Every role's attributes and password hash, by name (but the tests':
    they come and go while tests run)."""
    rows = query("SELECT rolname, concat_ws(',', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,"
                 " rolreplication, rolbypassrls, rolconnlimit, rolpassword, rolvaliduntil) FROM pg_authid"
                 f" WHERE rolname NOT LIKE '{TEST_PREFIX}%'")
    return dict(row.split("|", 1) for row in rows)


def snapshot(databases):
    """What init.sh decides: roles, databases with owner and privileges,
    and who owns what is in each service's database."""
    state = {"roles": roles(),
             "databases": query("SELECT datname, pg_get_userbyid(datdba), datacl FROM pg_database"
                                f" WHERE datname NOT LIKE '{TEST_PREFIX}%' ORDER BY 1")}
    for db in databases:
        state[db] = query("SELECT 'table ' || tablename || ' ' || tableowner FROM pg_tables WHERE schemaname = 'public'"
                          " UNION ALL SELECT 'function ' || proname || ' ' || pg_get_userbyid(proowner) FROM pg_proc"
                          " WHERE pronamespace = 'public'::regnamespace ORDER BY 1", db)
    return state


def init():
    result = subprocess.run([os.path.join(ROOT, "deploy", "postgres", "init.sh")], env=ENV,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check-init-scripts: deploy/postgres/init.sh failed:\n{result.stdout}{result.stderr}")


BROKER_NAMESPACE = "switchyard-ci-init-check."


# rabbitmqctl as the tests and init.sh find it.
CTL = os.path.join(ROOT, "deploy", "rabbitmq", "ctl.sh")


def rabbitmqctl(*args):
    result = subprocess.run([CTL, "-q", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check-init-scripts: rabbitmqctl {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def ours(name):
    return name.startswith(BROKER_NAMESPACE)


def broker_state():
    """The namespace's users (with password hashes), permissions, topic
    permissions and exchange, and guest's rights."""
    definitions = json.loads(rabbitmqctl("export_definitions", "-"))
    return {
        "users": sorted((u["name"], u["password_hash"], str(u["tags"])) for u in definitions["users"] if ours(u["name"])),
        "permissions": sorted(json.dumps(p, sort_keys=True) for p in definitions["permissions"] if ours(p["user"])),
        "topic permissions": sorted(json.dumps(p, sort_keys=True) for p in definitions["topic_permissions"]
                                    if ours(p["user"])),
        "exchanges": sorted(json.dumps(x, sort_keys=True) for x in definitions["exchanges"] if ours(x["name"])),
        "guest": sorted(json.dumps(p, sort_keys=True) for p in definitions["permissions"] + definitions["topic_permissions"]
                        if p["user"] == "guest"),
    }


def publishes(connection, key):
    """Whether the connection's user may publish KEY to the namespace's
    events exchange: True when the broker confirms it, False when it
    refuses it with ACCESS_REFUSED, which closes only the channel, so each
    try gets a channel of its own; anything else is an error."""
    import pika  # the project's .venv (tools/python/requirements.txt)

    channel = connection.channel()
    channel.confirm_delivery()
    try:
        channel.basic_publish(f"{BROKER_NAMESPACE}domain-events", key, b"{}")
    except pika.exceptions.ChannelClosedByBroker as closed:
        if closed.reply_code != 403:
            raise
        return False
    channel.close()
    return True


def check_rights(listed, secrets):
    """Each service user against the broker, over one connection each: its
    own types pass, every other service's are refused."""
    import pika

    problems = []
    for name, own in listed.items():
        with open(os.path.join(secrets, name, "broker-password")) as f:
            credentials = pika.PlainCredentials(BROKER_NAMESPACE + name, f.read())
        connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, "/", credentials))
        try:
            others = [key for other, keys in listed.items() if other != name for key in keys]
            problems += [f"broker user {name} may not publish its own {key}"
                         for key in own if not publishes(connection, key)]
            problems += [f"broker user {name} published {key}, another service's event type"
                         for key in others if publishes(connection, key)]
        finally:
            connection.close()
    return problems


def check_broker():
    # What each may publish comes from the service list itself, not from
    # the users file the script reads (which is generated from it).
    listed = {s["name"]: s["publishes"] for s in service_list.load() if service_list.uses_broker(s)}
    names = [*listed, "operator"]
    secrets = tempfile.mkdtemp(prefix="switchyard-broker-check-")
    problems = []
    try:
        for name in names:
            os.makedirs(os.path.join(secrets, name))
            with open(os.path.join(secrets, name, "broker-password"), "w") as f:
                f.write(os.urandom(12).hex())
        env = dict(os.environ, BROKER_NAMESPACE=BROKER_NAMESPACE)
        guest_before = broker_state()["guest"]
        script = [os.path.join(ROOT, "deploy", "rabbitmq", "init.sh"), secrets]
        states = []
        for _ in range(2):
            result = subprocess.run(script, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                return [f"deploy/rabbitmq/init.sh failed: {result.stdout}{result.stderr}"]
            states.append(broker_state())
        first, second = states
        if len(first["users"]) != len(names):
            problems.append(f"the broker init made {len(first['users'])} users, not {len(names)}")
        problems += [f"the broker init's second run changed the {part}" for part in first if first[part] != second[part]]
        if second["guest"] != guest_before:
            problems.append("the broker init changed guest's rights")
        problems += check_rights(listed, secrets)
    finally:
        shutil.rmtree(secrets)
        # One call for all (each starts an Erlang VM), one per user if that fails.
        users = ",".join(f'<<"{BROKER_NAMESPACE}{name}">>' for name in names)
        expression = (f"lists:foreach(fun(U) -> rabbit_auth_backend_internal:delete_user(U, <<\"switchyard-ci\">>) end, "
                      f"[{users}]).")
        if subprocess.run([CTL, "-q", "eval", expression], capture_output=True).returncode != 0:
            for name in names:
                subprocess.run([CTL, "-q", "delete_user", BROKER_NAMESPACE + name], capture_output=True)
    return problems


def main():
    databases = [s["database"] for s in service_list.load() if "database" in s]
    problems = check_broker()

    before = roles()
    init()
    first = snapshot(databases)
    problems += [f"the first run changed role {name}, which is not a service's" for name in before
                 if name not in databases and first["roles"].get(name) != before[name]]
    init()
    second = snapshot(databases)
    for part in first:
        if first[part] != second[part]:
            problems.append(f"the second run changed {part}")

    for db in databases:
        attributes = query(f"SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = '{db}'")
        if attributes != ["f|f|f"]:
            problems.append(f"role {db}: superuser, createrole, createdb are {attributes}, not all false")
        ok, output = psql("SELECT current_user", db, user=db)
        if not ok or output != db:
            problems.append(f"role {db} cannot connect to its own database: {output}")
        for other in databases:
            if other != db:
                ok, output = psql("SELECT 1", other, user=db)
                if ok or "permission denied" not in output:
                    problems.append(f"role {db} connects to {other}'s database: {output}")
        for statement in ["CREATE ROLE switchyard_probe", "CREATE DATABASE switchyard_probe"]:
            ok, output = psql(statement, db, user=db)
            if ok or "permission denied" not in output:
                problems.append(f"role {db}: {statement} was not refused: {output}")
                psql(statement.replace("CREATE", "DROP"))

    if "--no-test-leftovers" in sys.argv:
        left = query(f"SELECT 'role ' || rolname FROM pg_roles WHERE rolname LIKE '{TEST_PREFIX}%' UNION ALL "
                     f"SELECT 'database ' || datname FROM pg_database WHERE datname LIKE '{TEST_PREFIX}%'")
        problems += [f"left after the tests: {thing}" for thing in left]
        users = rabbitmqctl("list_users", "--no-table-headers").splitlines()
        problems += [f"left after the tests: broker user {user.split()[0]}" for user in users
                     if user.startswith("test-")]

    for problem in problems:
        print(f"check-init-scripts: {problem}")
    if problems:
        sys.exit(1)
    print(f"check-init-scripts: {len(databases)} database roles and the broker users; each script's second run "
          "changed nothing; each role reaches its own database only and can create no role or database; each "
          "broker user publishes its own event types only; guest is as it was")


if __name__ == "__main__":
    main()
