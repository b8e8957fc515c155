"""Users (admins): personal accounts with their roles; add, change a role or a password, remove."""

import pandas as pd
import streamlit as st

from fer_core.trust import access, accounts, audit

from resources import get_engine
from widgets import plain, table

st.title("Users")
access.require("users")
engine = get_engine()
st.caption(
    "Admin: accounts, deletion, erasure, the audit trail. Researcher: upload, analyse, review, adapt, markers, "
    "export. Viewer: pages and reports, without face pictures or videos (unless FER_VIEWERS_SEE_FACES is set)."
)
listed = accounts.listing(engine)
if listed:
    table(pd.DataFrame(listed).rename(columns={"created_at": "created (UTC)"}), hide_index=True)
else:
    st.info("No account yet: the dashboard uses the shared password, if one is set.")

with st.form("add-user", clear_on_submit=True):
    st.markdown("**Add an account**")
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Name")
    role = c2.selectbox("Role", access.ACCOUNT_ROLES, index=1)
    password = c3.text_input("Password", type="password", help=f"At least {accounts.MIN_PASSWORD} characters")
    if st.form_submit_button("Add", icon=":material/person_add:"):
        try:
            accounts.add(engine, name, role, password)
            audit.record(engine, "account add", target=name.strip(), detail={"role": role})
            st.success(plain(f"Account {name.strip()} added ({role})."))
        except ValueError as exc:
            st.error(plain(exc))

if listed:
    with st.form("change-user"):
        st.markdown("**Change an account**")
        c1, c2, c3 = st.columns(3)
        who = c1.selectbox("Account", [a["name"] for a in listed])
        role = c2.selectbox("New role", ["(unchanged)", *access.ACCOUNT_ROLES])
        password = c3.text_input("New password", type="password", help="Empty: unchanged")
        change, remove = st.columns(2)
        try:
            if change.form_submit_button("Change", icon=":material/edit:"):
                if role != "(unchanged)":
                    accounts.set_role(engine, who, role)
                    audit.record(engine, "account set-role", target=who, detail={"role": role})
                if password:
                    accounts.set_password(engine, who, password)
                    audit.record(engine, "account password", target=who)
                st.rerun()
            if remove.form_submit_button("Remove this account", icon=":material/person_remove:"):
                accounts.remove(engine, who)
                audit.record(engine, "account remove", target=who)
                st.rerun()
        except ValueError as exc:
            st.error(plain(exc))
