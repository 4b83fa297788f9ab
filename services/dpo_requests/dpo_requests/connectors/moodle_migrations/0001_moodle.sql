-- A tiny Moodle-like learning platform: who is enrolled where, their grades and forum posts.
CREATE TABLE mdl_user (
    id          text PRIMARY KEY,          -- the learner's SSO id (the OIDC "sub")
    username    text NOT NULL,
    email       text NOT NULL,
    firstname   text NOT NULL,
    lastname    text NOT NULL,
    restricted  boolean NOT NULL DEFAULT false,   -- GDPR Art. 18
    objected    boolean NOT NULL DEFAULT false,   -- GDPR Art. 21: out of learning analytics
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE mdl_course (
    id        text PRIMARY KEY,
    fullname  text NOT NULL
);
CREATE TABLE mdl_enrol (
    user_id     text NOT NULL REFERENCES mdl_user (id),
    course_id   text NOT NULL REFERENCES mdl_course (id),
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, course_id)
);
CREATE TABLE mdl_grade (
    user_id   text NOT NULL REFERENCES mdl_user (id),
    course_id text NOT NULL REFERENCES mdl_course (id),
    item      text NOT NULL,
    grade     numeric(5, 2) NOT NULL,
    PRIMARY KEY (user_id, course_id, item)
);
CREATE TABLE mdl_forum_post (
    id        bigserial PRIMARY KEY,
    user_id   text NOT NULL REFERENCES mdl_user (id),
    course_id text NOT NULL REFERENCES mdl_course (id),
    posted_at timestamptz NOT NULL DEFAULT now(),
    message   text NOT NULL
);
