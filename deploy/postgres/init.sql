-- One database per service, created when the PostgreSQL volume is first
-- initialised. Each service creates its own tables (migrations) at start.
CREATE DATABASE users;
CREATE DATABASE orders;
CREATE DATABASE inventory;
CREATE DATABASE notifications;
CREATE DATABASE analytics;
