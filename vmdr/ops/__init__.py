"""Operations on Azure, one module per concern; each is idempotent and derives every name it
creates from its inputs (vmdr.naming), so an activity that runs twice leaves one result."""
