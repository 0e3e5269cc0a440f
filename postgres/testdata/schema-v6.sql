-- A schema at version 6 as an earlier gatehouse created it (pg_dump --inserts of a fresh schema,
-- named gh_compat_main here). TestOpensSchemaOfEarlierRelease checks that Open takes it as it is.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: gh_compat_main; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA gh_compat_main;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit_events; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.audit_events (
    id text NOT NULL COLLATE pg_catalog."C",
    "time" bigint NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    user_id text DEFAULT ''::text NOT NULL COLLATE pg_catalog."C",
    actor_id text DEFAULT ''::text NOT NULL COLLATE pg_catalog."C",
    ip text DEFAULT ''::text NOT NULL,
    user_agent text DEFAULT ''::text NOT NULL,
    detail text DEFAULT ''::text NOT NULL
);


--
-- Name: imports; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.imports (
    source text NOT NULL COLLATE pg_catalog."C",
    started_at bigint NOT NULL,
    finished_at bigint,
    summary text DEFAULT ''::text NOT NULL
);


--
-- Name: refresh_families; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.refresh_families (
    id text NOT NULL COLLATE pg_catalog."C",
    user_id text NOT NULL COLLATE pg_catalog."C",
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);


--
-- Name: refresh_tokens; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.refresh_tokens (
    hash bytea NOT NULL,
    family_id text NOT NULL COLLATE pg_catalog."C",
    current boolean NOT NULL,
    rotated_at bigint,
    sealed bytea,
    CONSTRAINT refresh_tokens_hash_check CHECK ((length(hash) = 32))
);


--
-- Name: revoked_tokens; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.revoked_tokens (
    jti text NOT NULL COLLATE pg_catalog."C",
    expires_at bigint NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.schema_migrations (
    version integer NOT NULL,
    applied_at bigint NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.settings (
    name text NOT NULL,
    value text NOT NULL
);


--
-- Name: signing_keys; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.signing_keys (
    id smallint NOT NULL,
    sealed bytea NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT signing_keys_id_check CHECK ((id = 1))
);


--
-- Name: user_not_before; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.user_not_before (
    user_id text NOT NULL COLLATE pg_catalog."C",
    not_before bigint NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: gh_compat_main; Owner: -
--

CREATE TABLE gh_compat_main.users (
    id text NOT NULL COLLATE pg_catalog."C",
    username text NOT NULL,
    username_norm text NOT NULL COLLATE pg_catalog."C",
    name text DEFAULT ''::text NOT NULL,
    email text DEFAULT ''::text NOT NULL,
    role text NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    password_hash text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['user'::text, 'admin'::text])))
);


--
-- Data for Name: audit_events; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: imports; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: refresh_families; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: refresh_tokens; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: revoked_tokens; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--

INSERT INTO gh_compat_main.schema_migrations VALUES (1, 1796230492402525111);
INSERT INTO gh_compat_main.schema_migrations VALUES (2, 1796230492503302909);
INSERT INTO gh_compat_main.schema_migrations VALUES (3, 1796230492519104475);
INSERT INTO gh_compat_main.schema_migrations VALUES (4, 1796230492544225335);
INSERT INTO gh_compat_main.schema_migrations VALUES (5, 1796230492570689343);
INSERT INTO gh_compat_main.schema_migrations VALUES (6, 1796230492586736745);


--
-- Data for Name: settings; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: signing_keys; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: user_not_before; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Data for Name: users; Type: TABLE DATA; Schema: gh_compat_main; Owner: -
--



--
-- Name: audit_events audit_events_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.audit_events
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);


--
-- Name: imports imports_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.imports
    ADD CONSTRAINT imports_pkey PRIMARY KEY (source);


--
-- Name: refresh_families refresh_families_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.refresh_families
    ADD CONSTRAINT refresh_families_pkey PRIMARY KEY (id);


--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (hash);


--
-- Name: revoked_tokens revoked_tokens_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.revoked_tokens
    ADD CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (name);


--
-- Name: signing_keys signing_keys_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (id);


--
-- Name: user_not_before user_not_before_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.user_not_before
    ADD CONSTRAINT user_not_before_pkey PRIMARY KEY (user_id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: users users_username_norm_key; Type: CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.users
    ADD CONSTRAINT users_username_norm_key UNIQUE (username_norm);


--
-- Name: audit_events_action; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX audit_events_action ON gh_compat_main.audit_events USING btree (action, id);


--
-- Name: audit_events_actor; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX audit_events_actor ON gh_compat_main.audit_events USING btree (actor_id, id);


--
-- Name: audit_events_time; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX audit_events_time ON gh_compat_main.audit_events USING btree ("time");


--
-- Name: audit_events_user; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX audit_events_user ON gh_compat_main.audit_events USING btree (user_id, id);


--
-- Name: refresh_families_expires; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX refresh_families_expires ON gh_compat_main.refresh_families USING btree (expires_at);


--
-- Name: refresh_families_user; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX refresh_families_user ON gh_compat_main.refresh_families USING btree (user_id);


--
-- Name: refresh_tokens_family; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX refresh_tokens_family ON gh_compat_main.refresh_tokens USING btree (family_id);


--
-- Name: refresh_tokens_sealed; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX refresh_tokens_sealed ON gh_compat_main.refresh_tokens USING btree (family_id) WHERE (sealed IS NOT NULL);


--
-- Name: revoked_tokens_expires; Type: INDEX; Schema: gh_compat_main; Owner: -
--

CREATE INDEX revoked_tokens_expires ON gh_compat_main.revoked_tokens USING btree (expires_at);


--
-- Name: refresh_tokens refresh_tokens_family_id_fkey; Type: FK CONSTRAINT; Schema: gh_compat_main; Owner: -
--

ALTER TABLE ONLY gh_compat_main.refresh_tokens
    ADD CONSTRAINT refresh_tokens_family_id_fkey FOREIGN KEY (family_id) REFERENCES gh_compat_main.refresh_families(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


